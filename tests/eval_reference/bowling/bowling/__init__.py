"""Score a complete game of ten-pin bowling."""


def score(rolls: list[int]) -> int:
    for pins in rolls:
        if not 0 <= pins <= 10:
            raise ValueError(f"a roll knocks 0 to 10 pins, not {pins}")

    def roll(i: int) -> int:
        if i >= len(rolls):
            raise ValueError("the game is incomplete")
        return rolls[i]

    total, i, bonus_rolls = 0, 0, 0
    for frame in range(10):
        if roll(i) == 10:
            bonus = roll(i + 1) + roll(i + 2)
            if frame == 9 and roll(i + 1) != 10 and bonus > 10:
                raise ValueError("the bonus rolls knock more than 10 pins")
            total += 10 + bonus
            i, bonus_rolls = i + 1, 2
        else:
            pair = roll(i) + roll(i + 1)
            if pair > 10:
                raise ValueError(f"frame {frame + 1} knocks more than 10 pins")
            total += pair + (roll(i + 2) if pair == 10 else 0)
            i, bonus_rolls = i + 2, (1 if pair == 10 else 0)
    if len(rolls) != i + bonus_rolls:
        raise ValueError("the game has extra rolls")
    return total
