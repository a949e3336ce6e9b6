"""DynamoDB's request limits as bloop counts them (bloop.limits), and the moto compatibility patch."""
import pytest

from bloop import BaseModel, Column, String
from bloop.exceptions import ExpressionTooLarge, InvalidTransaction
from bloop.limits import attributes_size, check_expressions, check_transaction, value_size


class Thing(BaseModel):
    id = Column(String, hash_key=True)


@pytest.mark.parametrize("wire, size", [
    ({"S": "abc"}, 3),
    ({"S": "é"}, 2),  # UTF-8 bytes, not characters
    ({"N": "12345"}, 4),  # 1 byte per two significant digits, plus one
    ({"N": "-0.000120"}, 2),  # leading and trailing zeros, sign and point don't count
    ({"N": "1E+125"}, 2),
    ({"B": b"\x00\x01"}, 2),
    ({"BOOL": True}, 1),
    ({"NULL": True}, 1),
    ({"L": [{"S": "ab"}, {"N": "1"}]}, 3 + (1 + 2) + (1 + 2)),
    ({"M": {"ké": {"S": "x"}}}, 3 + 1 + 3 + 1),
    ({"SS": ["a", "é"]}, 3),
])
def test_value_sizes_as_dynamodb_counts_them(wire, size):
    assert value_size(wire) == size


def test_names_count_in_utf8_and_removals_count_nothing():
    assert attributes_size([("é", {"S": "x"}), ("gone", None)]) == 3


def test_expressions_over_4_kb_are_refused():
    check_expressions(Thing(id="x"), {"ConditionExpression": "a" * 4096})
    with pytest.raises(ExpressionTooLarge, match="UpdateExpression"):
        check_expressions(Thing(id="x"), {"UpdateExpression": "a" * 4097})


def test_transactions_over_100_items_or_4_mb_are_refused():
    check_transaction([(Thing(id=str(i)), 40_000) for i in range(100)])
    with pytest.raises(InvalidTransaction, match="100"):
        check_transaction([(Thing(id=str(i)), 1) for i in range(101)])
    with pytest.raises(InvalidTransaction, match="4 MB"):
        check_transaction([(Thing(id=str(i)), 200 * 1024) for i in range(25)])


def test_the_moto_patch_is_idempotent_and_only_handles_a_missing_update():
    pytest.importorskip("moto")
    from moto.dynamodb.models.dynamo_type import Item

    from bloop._moto_compat import apply_moto_compat
    assert apply_moto_compat() and apply_moto_compat()
    patched = Item.update_with_attribute_updates
    assert apply_moto_compat() and Item.update_with_attribute_updates is patched

    class Fake:
        pass

    assert patched(Fake(), None) is None  # UpdateItem with only a Key: nothing to apply
    with pytest.raises(AttributeError):
        patched(Fake(), {"a": {"Action": "PUT", "Value": {"S": "x"}}})  # moto's own code ran on Fake
