"""Exception messages and logs name objects by their key, never by all their values."""
import pytest

from bloop import BaseModel, Column, Engine, Integer, String
from bloop.exceptions import InvalidBatch
from bloop.util import key_repr


class Page(BaseModel):
    book = Column(String, hash_key=True)
    number = Column(Integer, range_key=True)
    text = Column(String)


def test_key_repr_shows_the_key_columns_only():
    assert key_repr(Page(book="b", number=3, text="a private paragraph")) == "Page(book='b', number=3)"
    assert key_repr(Page(text="no key yet")) == "Page(book=None, number=None)"


def test_a_refused_batch_names_objects_by_key():
    engine = Engine(dynamodb=object(), dynamodbstreams=object())
    engine.bind(Page, skip_table_setup=True)
    with pytest.raises(InvalidBatch) as excinfo:
        with engine.batch() as batch:
            batch.save(Page(book="b", number=1, text="first private paragraph"))
            batch.save(Page(book="b", number=1, text="second private paragraph"))
    assert "Page(book='b', number=1)" in str(excinfo.value)
    assert "private" not in str(excinfo.value)
