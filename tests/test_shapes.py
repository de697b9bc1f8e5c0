"""Shape snapshots mask volatile values and keep every key and enum-like value."""

from vertex_conformance import shapes
from vertex_conformance.exchange import Exchange
from vertex_conformance.paths import SAMPLES


def test_mask_keeps_keys_and_enum_values_and_masks_volatile_ones():
    masked = shapes.mask(
        {
            "id": "abc",
            "object": "chat.completion",
            "created": 1,
            "usage": {"total_tokens": 3},
            "choices": [{"finish_reason": "stop", "logprobs": None}],
        }
    )
    assert masked == {
        "choices": [{"finish_reason": "stop", "logprobs": None}],
        "created": "<int>",
        "id": "<str>",
        "object": "chat.completion",
        "usage": {"total_tokens": "<int>"},
    }


def test_a_renamed_field_changes_the_shape():
    body = (SAMPLES / "plain_chat.json").read_text()
    original = shapes.of(Exchange(None, 200, {}, body_text=body))
    renamed = shapes.of(Exchange(None, 200, {}, body_text=body.replace('"total_tokens"', '"totalTokens"')))
    assert original != renamed


def test_stream_shape_lists_distinct_chunk_shapes_and_the_assembled_message():
    text = (SAMPLES / "streaming_chat.sse").read_text()
    shape = shapes.of(Exchange(None, 200, {}, stream_text=text))
    assert len(shape["chunk_shapes"]) == 2  # text chunks, and the final one with finish_reason and usage
    assert shape["assembled"]["0"]["role"] == "assistant"
    assert shape["ends_with_done"] is True
    longer = text.replace("data: [DONE]", 'data: {"choices":[],"id":"x"}\n\ndata: [DONE]')
    assert shapes.of(Exchange(None, 200, {}, stream_text=longer))["chunk_shapes"] != shape["chunk_shapes"]
