package io.blocksim.sim.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ShellWordsTest {

  @Test
  void blanksSeparateAndQuotesGroup() {
    assertThat(ShellWords.split("  bitmap --add -g 65536  'my image.qcow2' \"b 0\" x\\ y "))
        .containsExactly("bitmap", "--add", "-g", "65536", "my image.qcow2", "b 0", "x y");
  }

  @Test
  void singleQuotesKeepBackslashes() {
    assertThat(ShellWords.split("a'\\n'b")).containsExactly("a\\nb");
  }

  @Test
  void emptyQuotesMakeAnEmptyWord() {
    assertThat(ShellWords.split("rebase -u -b '' top.qcow2"))
        .containsExactly("rebase", "-u", "-b", "", "top.qcow2");
  }

  @Test
  void anUnterminatedQuoteIsAnError() {
    assertThatThrownBy(() -> ShellWords.split("info 'x")).hasMessageContaining("unterminated");
  }
}
