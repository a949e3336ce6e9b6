"""Signals sent by models and engines (blinker). Receivers connect with ``signal.connect(fn)``."""
from blinker import Namespace

__all__ = [
    "before_create_table", "model_bound", "model_created", "model_validated",
    "object_deleted", "object_loaded", "object_modified", "object_saved",
]

_signals = Namespace()

before_create_table = _signals.signal("before_create_table")
before_create_table.__doc__ = "Sent by an engine before CreateTable: ``(engine, engine=, model=)``."

model_bound = _signals.signal("model_bound")
model_bound.__doc__ = "Sent by an engine when a model is bound: ``(engine, engine=, model=)``."

model_created = _signals.signal("model_created")
model_created.__doc__ = "Sent (sender None) for each BaseModel subclass: ``(None, model=)``."

model_validated = _signals.signal("model_validated")
model_validated.__doc__ = "Sent by an engine after it checked the table: ``(engine, engine=, model=)``."

object_deleted = _signals.signal("object_deleted")
object_deleted.__doc__ = "Sent by an engine after a delete: ``(engine, engine=, obj=)``."

object_loaded = _signals.signal("object_loaded")
object_loaded.__doc__ = "Sent by an engine after an object is filled from DynamoDB: ``(engine, engine=, obj=)``."

object_modified = _signals.signal("object_modified")
object_modified.__doc__ = "Sent by a Column when an attribute is set or deleted: ``(column, obj=, column=, value=)``."

object_saved = _signals.signal("object_saved")
object_saved.__doc__ = "Sent by an engine after a save: ``(engine, engine=, obj=)``."
