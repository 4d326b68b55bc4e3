"""Bank accounts in integer cents."""

from __future__ import annotations


class InsufficientFunds(ValueError):
    pass


def _positive(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"an amount is a positive number of cents, not {amount!r}")
    return amount


class Account:
    def __init__(self, owner: str, balance: int = 0) -> None:
        if balance < 0:
            raise ValueError("the opening balance cannot be negative")
        self.owner = owner
        self._balance = balance
        self._history: list[int] = []

    @property
    def balance(self) -> int:
        return self._balance

    def history(self) -> list[int]:
        return list(self._history)

    def deposit(self, amount: int) -> None:
        self._balance += _positive(amount)
        self._history.append(amount)

    def withdraw(self, amount: int) -> None:
        if _positive(amount) > self._balance:
            raise InsufficientFunds(f"{self.owner} has {self._balance}, cannot take {amount}")
        self._balance -= amount
        self._history.append(-amount)

    def transfer(self, amount: int, to: Account) -> None:
        self.withdraw(amount)
        to.deposit(amount)
