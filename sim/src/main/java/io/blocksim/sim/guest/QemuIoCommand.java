package io.blocksim.sim.guest;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A parsed qemu-io command of the scenario contract ({@code write [-P pattern] [-z] OFF LEN},
 * {@code read [-P pattern] OFF LEN}, {@code discard OFF LEN}, {@code flush}) and qemu-io's output
 * text, already filtered as iotests filter it (timings replaced).
 */
public record QemuIoCommand(Kind kind, long offset, long length, Integer pattern,
    boolean zeroes, boolean mayUnmap) {

  public enum Kind { READ, WRITE, DISCARD, FLUSH }

  /** Parses a command; throws IllegalArgumentException with qemu-io's complaint. */
  public static QemuIoCommand parse(String command) {
    List<String> words = new ArrayList<>(List.of(command.trim().split("\\s+")));
    if (words.isEmpty() || words.get(0).isEmpty()) {
      throw new IllegalArgumentException("empty qemu-io command");
    }
    String verb = words.remove(0);
    Integer pattern = null;
    boolean zeroes = false;
    boolean mayUnmap = false;
    List<String> positional = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      if (w.startsWith("-P")) {
        String value = w.length() > 2 ? w.substring(2) : (++i < words.size() ? words.get(i) : "");
        pattern = (int) parseNumber(value, "pattern") & 0xff;
      } else if (w.equals("-z")) {
        zeroes = true;
      } else if (w.equals("-u")) {
        mayUnmap = true;
      } else if (w.equals("-q")) {
        continue;
      } else if (w.startsWith("-")) {
        throw new IllegalArgumentException("unsupported qemu-io option '" + w + "'");
      } else {
        positional.add(w);
      }
    }
    switch (verb) {
      case "flush" -> {
        if (!positional.isEmpty() || pattern != null || zeroes) {
          throw new IllegalArgumentException("flush takes no arguments");
        }
        return new QemuIoCommand(Kind.FLUSH, 0, 0, null, false, false);
      }
      case "read", "write", "discard" -> {
        if (positional.size() != 2) {
          throw new IllegalArgumentException(verb + " takes OFFSET LENGTH");
        }
        Kind kind = switch (verb) {
          case "read" -> Kind.READ;
          case "write" -> Kind.WRITE;
          default -> Kind.DISCARD;
        };
        if (zeroes && kind != Kind.WRITE) {
          throw new IllegalArgumentException("-z is only for write");
        }
        if (zeroes && pattern != null) {
          throw new IllegalArgumentException("-z and -P cannot be specified at the same time");
        }
        long offset = parseNumber(positional.get(0), "offset");
        long length = parseNumber(positional.get(1), "length");
        return new QemuIoCommand(kind, offset, length, pattern, zeroes, mayUnmap);
      }
      default -> throw new IllegalArgumentException("command \"" + verb + "\" not found");
    }
  }

  /** Parses a qemu-io number: decimal, 0x hex, or a size suffix (k, M, G, T, P, E). */
  public static long parseNumber(String text, String what) {
    String s = text.trim();
    try {
      if (s.startsWith("0x") || s.startsWith("0X")) {
        return Long.parseLong(s.substring(2), 16);
      }
      long multiplier = 1;
      char last = s.isEmpty() ? ' ' : s.charAt(s.length() - 1);
      int shift = switch (Character.toLowerCase(last)) {
        case 'b' -> 0;
        case 'k' -> 10;
        case 'm' -> 20;
        case 'g' -> 30;
        case 't' -> 40;
        case 'p' -> 50;
        case 'e' -> 60;
        default -> -1;
      };
      if (shift >= 0) {
        s = s.substring(0, s.length() - 1);
        multiplier = 1L << shift;
      }
      return Math.multiplyExact(Long.parseLong(s), multiplier);
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("invalid " + what + " '" + text + "'");
    }
  }

  /** Returns the two report lines qemu-io prints for a completed request, filtered. */
  public static List<String> report(String op, long offset, long bytes) {
    return List.of(
        String.format(Locale.ROOT, "%s %d/%d bytes at offset %d", op, bytes, bytes, offset),
        humanSize(bytes) + ", X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)");
  }

  /** Formats a byte count as qemu-io's cvtstr does ("64 KiB", "1.500 MiB", "512 bytes"). */
  public static String humanSize(long value) {
    String[] suffixes = {" EiB", " PiB", " TiB", " GiB", " MiB", " KiB"};
    int[] shifts = {60, 50, 40, 30, 20, 10};
    for (int i = 0; i < shifts.length; i++) {
      if (Long.compareUnsigned(value, 1L << shifts[i]) >= 0) {
        BigDecimal scaled = new BigDecimal(value).divide(new BigDecimal(1L << shifts[i]))
            .setScale(3, RoundingMode.HALF_EVEN);
        return trim(scaled.toPlainString()) + suffixes[i];
      }
    }
    return trim(value + ".000000") + " bytes";
  }

  private static String trim(String number) {
    int dot = number.indexOf(".000");
    return dot >= 0 ? number.substring(0, dot) : number;
  }
}
