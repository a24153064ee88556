from foundation.errors import BudgetExceededError


class LedgerError(BudgetExceededError):
    """A reservation was refused because it would pass a budget."""
