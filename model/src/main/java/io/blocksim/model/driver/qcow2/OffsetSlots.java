package io.blocksim.model.driver.qcow2;

import java.util.Arrays;

/**
 * The slot of each cached table by its file offset, for {@link Qcow2Cache}'s hit lookups: open
 * addressing with linear probing over primitive arrays (no boxing on the hot path). Offsets are
 * never 0 (the header's cluster), so 0 marks an empty slot; lookups of 0 find nothing. Nothing
 * iterates it, so its order never reaches output.
 */
final class OffsetSlots {
  private long[] keys;
  private int[] values;
  private int size;

  OffsetSlots(int expected) {
    int capacity = Integer.highestOneBit(Math.max(8, expected) * 2) << 1;
    keys = new long[capacity];
    values = new int[capacity];
  }

  private int home(long key) {
    return (int) ((key * 0x9E3779B97F4A7C15L) >>> (64 - Integer.numberOfTrailingZeros(
        keys.length)));
  }

  /** Returns the slot cached for offset, or -1. */
  int get(long offset) {
    if (offset == 0) {
      return -1;
    }
    int mask = keys.length - 1;
    for (int i = home(offset); ; i = (i + 1) & mask) {
      if (keys[i] == offset) {
        return values[i];
      }
      if (keys[i] == 0) {
        return -1;
      }
    }
  }

  void put(long offset, int slot) {
    int mask = keys.length - 1;
    for (int i = home(offset); ; i = (i + 1) & mask) {
      if (keys[i] == offset) {
        values[i] = slot;
        return;
      }
      if (keys[i] == 0) {
        keys[i] = offset;
        values[i] = slot;
        if (++size * 2 > keys.length) {
          grow();
        }
        return;
      }
    }
  }

  void remove(long offset) {
    if (offset == 0) {
      return;
    }
    int mask = keys.length - 1;
    int i = home(offset);
    while (keys[i] != offset) {
      if (keys[i] == 0) {
        return;
      }
      i = (i + 1) & mask;
    }
    size--;
    // Backward shift: later entries of the probe run move into the gap where they may.
    int gap = i;
    for (int j = (gap + 1) & mask; keys[j] != 0; j = (j + 1) & mask) {
      int h = home(keys[j]);
      if (((j - h) & mask) >= ((j - gap) & mask)) {
        keys[gap] = keys[j];
        values[gap] = values[j];
        gap = j;
      }
    }
    keys[gap] = 0;
  }

  void clear() {
    Arrays.fill(keys, 0);
    size = 0;
  }

  private void grow() {
    long[] oldKeys = keys;
    int[] oldValues = values;
    keys = new long[oldKeys.length * 2];
    values = new int[oldKeys.length * 2];
    size = 0;
    for (int i = 0; i < oldKeys.length; i++) {
      if (oldKeys[i] != 0) {
        put(oldKeys[i], oldValues[i]);
      }
    }
  }
}
