"""The write fence against a real Redis: lost writes are noticed before anything is built
on them; an attempt whose answer was lost is recognised by its token."""

from __future__ import annotations

import pytest
import redis

from flows.stats import Stats
from state.batch import BatchWrite
from state.cache import StateCache
from state.customers import CustomerStore
from state.fence import LostWrites, WriteFence
from tests.events import customer, receipt
from tests.flows.test_processor import events, on_redis, processor


def commit(fence: WriteFence, client: redis.Redis, shard: str, value: bytes) -> None:
    batch = fence.open(shard)
    writes = BatchWrite(client, batch.pipe)
    batch.seal(writes)
    writes.main.set("t:doc", value)
    writes.execute()
    fence.committed(batch, shard)
    batch.close()


def test_a_batch_lost_by_redis_is_noticed_before_the_next_one(redis_client: redis.Redis) -> None:
    fence = WriteFence(redis_client, "t")
    commit(fence, redis_client, "3", b"first")
    saved = redis_client.dump(fence.key("3"))
    commit(fence, redis_client, "3", b"second")
    assert redis_client.get("t:doc") == b"second"
    # Redis restarts from an AOF that ends before the second batch: both keys roll back
    redis_client.restore(fence.key("3"), 0, saved, replace=True)
    redis_client.set("t:doc", b"first")
    with pytest.raises(LostWrites, match="shard 3"):
        fence.open("3")
    # another process has no expectation of its own: it resumes from a snapshot instead
    WriteFence(redis_client, "t").open("3").close()


def test_an_attempt_whose_answer_was_lost_is_known_by_its_token(redis_client: redis.Redis) -> None:
    fence = WriteFence(redis_client, "t")
    commit(fence, redis_client, "0", b"one")
    batch = fence.open("0")
    writes = BatchWrite(redis_client, batch.pipe)
    batch.seal(writes)
    writes.main.set("t:doc", b"two")
    writes.execute()  # applied, but say the answer never came back: no committed()
    batch.close()
    again = fence.open("0")
    assert again.already_applied
    again.close()
    commit(fence, redis_client, "0", b"three")  # and the fence goes on from there
    assert redis_client.get("t:doc") == b"three"


def test_an_attempt_that_did_not_commit_is_simply_done_again(redis_client: redis.Redis) -> None:
    fence = WriteFence(redis_client, "t")
    commit(fence, redis_client, "0", b"one")
    fence.open("0").close()  # the connection dropped before EXEC: nothing written
    again = fence.open("0")
    assert not again.already_applied
    again.close()


def test_the_processor_stops_rather_than_build_on_lost_writes(redis_client: redis.Redis) -> None:
    engine = processor(on_redis(redis_client), Stats(), cache=StateCache(10))
    engine.process("0", events(customer("C1", contacts={"phone": "+7999"})))
    redis_client.delete(WriteFence(redis_client, "t").key("0"))  # that batch is gone
    with pytest.raises(LostWrites):
        engine.process("0", events(receipt("r1", "C1", 1000)))
    state = CustomerStore(redis_client, "t", 3600).load(["c:C1"])["c:C1"]
    assert state.balance == 0  # nothing written on top of the loss
