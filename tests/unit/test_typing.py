"""Type checkers see ``user.email`` as ``str``: Column[T] carries the python type of its bloop type."""
import textwrap

import pytest

mypy_api = pytest.importorskip("mypy.api")

SNIPPET = textwrap.dedent("""
    from bloop import UUID, BaseModel, Column, DateTime, Integer, Number, Set, String, Timestamp

    class User(BaseModel):
        id = Column(String, hash_key=True)
        visits = Column(Integer)
        score = Column(Number())
        joined = Column(DateTime)
        expires = Column(Timestamp)
        token = Column(UUID)
        tags = Column(Set(String))

    user = User()
    reveal_type(user.id)
    reveal_type(user.visits)
    reveal_type(user.score)
    reveal_type(user.joined)
    reveal_type(user.expires)
    reveal_type(user.token)
    reveal_type(User.id)
""")


def test_column_types_are_visible_to_mypy(tmp_path):
    path = tmp_path / "snippet.py"
    path.write_text(SNIPPET)
    stdout, _, _ = mypy_api.run([str(path), "--follow-imports=silent", "--no-error-summary",
                                 "--cache-dir", str(tmp_path / "cache")])
    revealed = [line.split("Revealed type is ")[1].strip('"') for line in stdout.splitlines()
                if "Revealed type is" in line]
    assert revealed == ["str", "int", "decimal.Decimal", "datetime.datetime", "datetime.datetime", "uuid.UUID",
                        "bloop.models.Column[str]"]
