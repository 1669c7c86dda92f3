"""Fuzz model cards: any text is a card or one line of refusal, never a crash.

Inputs are read as card text as they come, except those starting with byte 0x01: the rest
of those choose structured mutations of the seed cards (``card_mutations.py``), which keep
the JSON valid and so reach every field check. A card that loads must also survive writing and reading again unchanged,
so what ``visionkit models card`` writes and what the runtime reads always agree.
See fuzz/README.md for how to run it.
"""

import atheris
from _harness import fuzz
from card_mutations import mutate, seed_cards, to_text

with atheris.instrument_imports():
    from visionkit.cards import ModelCard
    from visionkit.errors import VisionkitError

ORIGIN = "fuzz.card.json"
SEED_CARDS = seed_cards()


def _as_text(data: bytes) -> str:
    if data[:1] != b"\x01":
        return data.decode("utf-8", "replace")  # cards are read as UTF-8 text
    fdp = atheris.FuzzedDataProvider(data[1:])

    def pick(n: int) -> int:
        return fdp.ConsumeIntInRange(0, n - 1)

    return to_text(mutate(SEED_CARDS[pick(len(SEED_CARDS))], pick))


def test_one_input(data: bytes) -> None:
    text = _as_text(data)
    try:
        card = ModelCard.from_json(text, origin=ORIGIN)
    except VisionkitError as exc:
        message = str(exc)
        if "\n" in message or not message.startswith(ORIGIN):
            raise AssertionError(f"refusal is not one line naming the card: {message!r}") from exc
        return
    again = ModelCard.from_json(card.to_json(), origin=ORIGIN)
    if again != card:
        raise AssertionError(f"card changed on a round trip through JSON: {card!r} -> {again!r}")


if __name__ == "__main__":
    fuzz(test_one_input, "cards")
