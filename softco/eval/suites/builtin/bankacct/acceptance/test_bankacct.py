"""Hidden acceptance tests for the task `bankacct` (library)."""

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def bank() -> ModuleType:
    return importlib.import_module("bankacct")


def test_opening_balance(bank: ModuleType) -> None:
    assert bank.Account("ann").balance == 0
    assert bank.Account("bob", 500).balance == 500


def test_deposit_and_withdraw(bank: ModuleType) -> None:
    acct = bank.Account("ann")
    acct.deposit(100)
    acct.withdraw(30)
    assert acct.balance == 70


def test_withdraw_whole_balance(bank: ModuleType) -> None:
    acct = bank.Account("ann", 50)
    acct.withdraw(50)
    assert acct.balance == 0


def test_overdraw_refused_and_nothing_changes(bank: ModuleType) -> None:
    assert issubclass(bank.InsufficientFunds, ValueError)
    acct = bank.Account("ann")
    acct.deposit(40)
    with pytest.raises(bank.InsufficientFunds):
        acct.withdraw(41)
    assert acct.balance == 40
    assert acct.history() == [40]


def test_non_positive_amounts(bank: ModuleType) -> None:
    acct, other = bank.Account("ann", 100), bank.Account("bob")
    for amount in (0, -5):
        with pytest.raises(ValueError):
            acct.deposit(amount)
        with pytest.raises(ValueError):
            acct.withdraw(amount)
        with pytest.raises(ValueError):
            acct.transfer(amount, other)
    assert (acct.balance, other.balance) == (100, 0)


def test_negative_opening_balance(bank: ModuleType) -> None:
    with pytest.raises(ValueError):
        bank.Account("ann", -1)


def test_transfer(bank: ModuleType) -> None:
    ann, bob = bank.Account("ann"), bank.Account("bob")
    ann.deposit(100)
    ann.transfer(30, bob)
    assert (ann.balance, bob.balance) == (70, 30)
    assert ann.history() == [100, -30]
    assert bob.history() == [30]


def test_failed_transfer_changes_neither(bank: ModuleType) -> None:
    ann, bob = bank.Account("ann"), bank.Account("bob")
    ann.deposit(10)
    with pytest.raises(bank.InsufficientFunds):
        ann.transfer(11, bob)
    assert (ann.balance, bob.balance) == (10, 0)
    assert bob.history() == []


def test_balance_is_read_only(bank: ModuleType) -> None:
    acct = bank.Account("ann", 5)
    with pytest.raises(AttributeError):
        acct.balance = 1_000_000
    assert acct.balance == 5


def test_history_order(bank: ModuleType) -> None:
    acct = bank.Account("ann")
    acct.deposit(100)
    acct.withdraw(30)
    acct.deposit(5)
    assert acct.history() == [100, -30, 5]
