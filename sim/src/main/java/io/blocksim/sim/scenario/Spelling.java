package io.blocksim.sim.scenario;

import java.util.Collection;

/** Finds the likely intended word for a misspelt key, for "did you mean" hints. */
final class Spelling {
  private Spelling() {}

  /**
   * Returns the candidate closest to {@code word} by edit distance (insertions, deletions,
   * substitutions and swaps of neighbours), if it is close enough to be a likely typo, else null.
   * Ties go to the earlier candidate, so the answer does not depend on hash order.
   */
  static String closest(String word, Collection<String> candidates) {
    // One edit in a short word, more in a long one (a long variant name with a wrong ending).
    int allowed = word.length() >= 5 ? Math.max(2, word.length() / 5) : 1;
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String candidate : candidates) {
      int d = distance(word.toLowerCase(java.util.Locale.ROOT), candidate);
      if (d <= allowed && d < bestDistance) {
        best = candidate;
        bestDistance = d;
      }
    }
    return best;
  }

  /** Returns the optimal string alignment distance between two words. */
  static int distance(String a, String b) {
    if (a.length() > 64 || b.length() > 64) {
      return Integer.MAX_VALUE;
    }
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) {
      d[i][0] = i;
    }
    for (int j = 0; j <= b.length(); j++) {
      d[0][j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
        if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2)
            && a.charAt(i - 2) == b.charAt(j - 1)) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.length()][b.length()];
  }
}
