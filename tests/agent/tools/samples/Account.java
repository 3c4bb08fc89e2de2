package bank;

import java.util.ArrayList;
import java.util.List;

public class Account {
    private final List<Long> entries = new ArrayList<>();

    public Account(long opening) {
        entries.add(opening);
    }

    public long balance() {
        return entries.stream().mapToLong(Long::longValue).sum();
    }

    public void deposit(long amount) {
        entries.add(amount);
    }

    interface Listener {
        void onChange(long balance);
    }

    enum Kind { CHECKING, SAVINGS }
}
