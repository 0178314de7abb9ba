package io.blocksim.sim.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.blocksim.sim.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.logging.Level;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;

/**
 * Opens a generated report in headless Chromium (Debian's chromium and chromium-driver, which
 * .ci/run installs) and checks what a reader sees: the index loads without console errors, a
 * failing case's page shows its first difference, every bitmap picture has one mark per granule
 * with the dirty ones where the observation's granules say, and the baseline diff marks exactly
 * the cases that changed. Without a browser the tests are skipped as "not run", never passed.
 * With {@code -Dblocksim.screenshots=DIR} it also saves PNGs of the pages it opens.
 */
class ReportBrowserTest {
  static final String CASE_257 = "sync=bitmap,bitmap-mode=always,failure=intermediate";
  static final Path WHATIF_SCENARIO =
      Path.of("../scenarios/proposals/force-cancel-skips-sync.yaml");
  private static final ObjectMapper MAPPER = new ObjectMapper();
  static ChromeDriver driver;
  @TempDir
  static Path work;
  static Path report;
  static Path changedScenario;
  static String missing;

  @BeforeAll
  static void buildReportAndOpenBrowser() throws Exception {
    Path chromium = firstExisting("BLOCKSIM_CHROMIUM", "/usr/lib/chromium/chromium",
        "/usr/bin/chromium");
    Path chromedriver = firstExisting("BLOCKSIM_CHROMEDRIVER", "/usr/bin/chromedriver",
        "/usr/lib/chromium/chromedriver");
    if (chromium == null || chromedriver == null) {
      missing = "not run: no chromium/chromedriver (apt-get install chromium chromium-driver)";
      return;
    }
    Path scenarios = work.resolve("scenarios");
    Files.createDirectories(scenarios);
    // A case that passes, one whose expect fails, and one whose golden file was edited.
    Files.writeString(scenarios.resolve("writes.yaml"), scenario("0x10000 0x20000", ""));
    Files.writeString(scenarios.resolve("expect-fails.yaml"), scenario("0x0 0x10000",
        "  - expect:\n      bitmap: {node: drive0, name: bitmap0, count: 1}\n"));
    Files.writeString(scenarios.resolve("golden-fails.yaml"), scenario("0x30000 0x10000", ""));
    Files.writeString(scenarios.resolve("unchanged.yaml"), scenario("0x0 0x10000", ""));
    assertThat(cli("run", "--update", scenarios.resolve("golden-fails.yaml").toString()))
        .isZero();
    Path golden = scenarios.resolve("golden-fails.out");
    Files.writeString(golden, Files.readString(golden).replace("wrote 65536/65536 bytes",
        "wrote 4096/4096 bytes"));
    Path base = work.resolve("base.json");
    Path corpus257 = Path.of("../scenarios/iotests/257.yaml");
    cli("run", "--json", base.toString(), scenarios.toString());
    // The change under review: one scenario now writes elsewhere.
    changedScenario = scenarios.resolve("writes.yaml");
    Files.writeString(changedScenario, scenario("0x100000 0x30000", ""));
    report = work.resolve("report");
    int exit = cli("run", "--report", report.toString(), "--baseline", base.toString(),
        scenarios.toString());
    assertThat(exit).as("two cases fail on purpose").isEqualTo(1);
    assertThat(cli("run", "--case", CASE_257, "--report", work.resolve("report257").toString(),
        corpus257.toString())).isZero();
    assertThat(cli("whatif", "--semantics", "proposal:force-cancel-skips-sync", "--report",
        work.resolve("whatif").toString(), WHATIF_SCENARIO.toString())).isZero();

    ChromeOptions options = new ChromeOptions();
    options.setBinary(chromium.toFile());
    options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--window-size=1400,1000",
        "--user-data-dir=" + Files.createTempDirectory(work, "chromium-profile"));
    LoggingPreferences logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(chromedriver.toFile()).usingAnyFreePort().build();
    driver = new ChromeDriver(service, options);
  }

  /** Each test is skipped with the reason (reported per test, never as a pass). */
  @BeforeEach
  void needsTheBrowser() {
    Assumptions.assumeTrue(missing == null, () -> missing);
  }

  @AfterAll
  static void closeBrowser() {
    if (driver != null) {
      driver.quit();
    }
  }

  @Test
  void indexLoadsWithoutConsoleErrors() throws Exception {
    open(report.resolve("index.html"), "index");
    assertThat(driver.findElement(By.id("totals")).getText())
        .contains("4 cases: 2 passed, 2 failed");
    assertThat(driver.findElements(By.cssSelector("tr.case"))).hasSize(4);
    List<String> severe = new ArrayList<>();
    for (LogEntry entry : driver.manage().logs().get(LogType.BROWSER)) {
      if (entry.getLevel().intValue() >= Level.WARNING.intValue()) {
        severe.add(entry.getLevel() + " " + entry.getMessage());
      }
    }
    assertThat(severe).as("console errors and warnings").isEmpty();
  }

  @Test
  void aFailingCasePageShowsItsDifference() throws Exception {
    open(report.resolve("index.html"), "index");
    driver.findElement(By.linkText(work.resolve("scenarios/golden-fails.yaml").toString()))
        .click();
    shoot("golden-fails");
    WebElement failure = driver.findElement(By.id("failure"));
    assertThat(failure.findElement(By.cssSelector(".expected .hl")).getText())
        .contains("wrote 4096/4096 bytes");
    assertThat(failure.findElement(By.cssSelector(".actual .hl")).getText())
        .contains("wrote 65536/65536 bytes");
    assertThat(failure.getText()).contains("./blocksim run --seed");

    open(report.resolve("cases/expect-fails.html"), "expect-fails");
    assertThat(driver.findElement(By.id("failure")).getText())
        .contains("expected bitmap drive0 'bitmap0' count 1, got 65536");
  }

  @Test
  void everyBitmapPictureHasOneMarkPerGranuleWithTheDirtyOnesWhereObserved() throws Exception {
    checkBitmaps(report.resolve("cases/writes.html"), "writes", report.resolve(
        "observations.json"), "writes.yaml");
    checkBitmaps(work.resolve("report257/cases/iotests_257." + CASE_257 + ".html"), "257",
        work.resolve("report257/observations.json"), "257.yaml");
  }

  @Test
  void theBaselineDiffMarksExactlyTheChangedCases() throws Exception {
    open(report.resolve("index.html"), "index");
    Set<String> changed = new TreeSet<>();
    for (WebElement mark : driver.findElements(By.cssSelector("[data-change=changed]"))) {
      WebElement row = mark.findElement(By.xpath("./ancestor::tr"));
      changed.add(row.findElement(By.tagName("a")).getText());
    }
    assertThat(changed).containsExactly(changedScenario.toString());
    assertThat(driver.findElements(By.cssSelector("[data-change=unchanged]"))).hasSize(3);
    driver.findElement(By.linkText(changedScenario.toString())).click();
    shoot("baseline-changed");
    assertThat(driver.findElement(By.id("change")).getText()).contains("bitmaps");
    assertThat(driver.findElements(By.cssSelector("section.changed-obs"))).hasSize(1);
  }

  /**
   * A what-if report: the proposal changes what a forced cancel leaves in the bitmap (the cases
   * that force-cancel: end=force, and job-cancel, which forces), nothing a soft cancel or a
   * grouped transaction does; a changed case shows the 7.2 run's bitmaps beside the variant's.
   */
  @Test
  void theWhatIfReportMarksTheCasesTheProposalChanges() throws Exception {
    Path index = work.resolve("whatif/index.html");
    open(index, "whatif-index");
    assertThat(driver.findElement(By.tagName("body")).getText())
        .contains("What if: proposal:force-cancel-skips-sync");
    Set<String> changed = new TreeSet<>();
    for (WebElement mark : driver.findElements(By.cssSelector("tr.case [data-change=changed]"))) {
      changed.add(mark.findElement(By.xpath("./ancestor::tr")).findElement(By.tagName("a"))
          .getText());
    }
    String name = "scenarios/proposals/force-cancel-skips-sync.yaml"; // shown from the root
    assertThat(changed).containsExactly(name + " [end=force]", name + " [end=job-cancel]");
    driver.findElement(By.linkText(name + " [end=force]")).click();
    shoot("whatif-force");
    assertThat(driver.findElements(By.cssSelector("section.changed-obs"))).isNotEmpty();
    assertThat(driver.findElement(By.id("change")).getText()).contains("bitmaps");
  }

  /**
   * Checks each picture of the page against the observations file: the marks (subpaths) of the
   * dirty and clean paths together are the granules, the dirty ones are the granules the
   * observation's runs cover, and dirty granules times the granularity is QMP's count.
   */
  @SuppressWarnings("unchecked")
  private void checkBitmaps(Path page, String name, Path observations, String scenarioSuffix)
      throws Exception {
    open(page, name);
    List<Map<String, Object>> cases = MAPPER.readValue(observations.toFile(), List.class);
    Map<String, Object> theCase = cases.stream()
        .filter(c -> String.valueOf(c.get("scenario")).endsWith(scenarioSuffix)).findFirst()
        .orElseThrow();
    List<WebElement> sections = driver.findElements(By.cssSelector("section.observation"));
    List<Object> observed = (List<Object>) theCase.get("observations");
    assertThat(sections).hasSize(observed.size());
    int pictures = 0;
    for (int i = 0; i < observed.size(); i++) {
      Map<String, Object> obs = (Map<String, Object>) observed.get(i);
      List<Object> bitmaps = (List<Object>) obs.get("bitmaps");
      List<Object> granules = (List<Object>) obs.get("granules");
      List<WebElement> strips = sections.get(i).findElements(By.cssSelector(
          "section.observation > .bm svg.bitmap.bitmap, .now svg.bitmap.bitmap"));
      assertThat(strips).as("pictures at observe %s", obs.get("label")).hasSize(bitmaps.size());
      for (int k = 0; k < bitmaps.size(); k++) {
        Map<String, Object> info = (Map<String, Object>) bitmaps.get(k);
        Map<String, Object> row = (Map<String, Object>) granules.get(k);
        long size = ((Number) row.get("size")).longValue();
        long granularity = ((Number) row.get("granularity")).longValue();
        int expectedMarks = (int) ((size + granularity - 1) / granularity);
        Set<Integer> expectedDirty = new TreeSet<>();
        for (Object run : (List<Object>) row.get("dirty")) {
          List<Number> r = (List<Number>) run;
          for (long g = r.get(0).longValue() / granularity;
              g * granularity < r.get(0).longValue() + r.get(1).longValue(); g++) {
            expectedDirty.add((int) g);
          }
        }
        assertThat((long) expectedDirty.size() * granularity).as("dirty granules vs count")
            .isEqualTo(((Number) info.get("count")).longValue());
        WebElement strip = strips.get(k);
        int perRow = Integer.parseInt(strip.getAttribute("data-per-row"));
        List<Integer> dirty = marks(strip.findElement(By.cssSelector("path.d")), perRow);
        List<Integer> clean = marks(strip.findElement(By.cssSelector("path.c")), perRow);
        assertThat(dirty.size() + clean.size()).as("marks of %s", info).isEqualTo(expectedMarks);
        assertThat(new TreeSet<>(dirty)).as("dirty marks of %s", info).isEqualTo(expectedDirty);
        assertThat(java.util.Collections.disjoint(clean, expectedDirty)).as("clean vs dirty")
            .isTrue();
        pictures++;
      }
    }
    assertThat(pictures).isPositive();
  }

  /** Returns the granule index of each mark of a path: "Mx y..." subpaths on a grid. */
  private static List<Integer> marks(WebElement path, int perRow) {
    Matcher m = Pattern.compile("M(\\d+) (\\d+)").matcher(path.getAttribute("d"));
    List<Integer> out = new ArrayList<>();
    while (m.find()) {
      int col = (Integer.parseInt(m.group(1)) - 2) / BitmapPicture.CELL;
      int row = (Integer.parseInt(m.group(2)) - 2) / BitmapPicture.ROW;
      out.add(row * perRow + col);
    }
    return out;
  }

  private static String scenario(String write, String extra) {
    return "name: report browser test\nimages:\n  - {path: img.qcow2, format: qcow2, size: 4M}\n"
        + "steps:\n  - qmp: blockdev-add\n    args: {node-name: drive0, driver: qcow2, file: "
        + "{driver: file, filename: img.qcow2}}\n  - qmp: block-dirty-bitmap-add\n"
        + "    args: {node: drive0, name: bitmap0, granularity: 65536}\n"
        + "  - io: \"write -P0x11 " + write + "\"\n    node: drive0\n"
        + "  - observe: after-write\n" + extra;
  }

  private static void open(Path file, String name) throws Exception {
    driver.get(file.toUri().toString());
    shoot(name);
  }

  private static void shoot(String name) throws Exception {
    String dir = System.getProperty("blocksim.screenshots");
    if (dir != null) {
      Files.createDirectories(Path.of(dir));
      Files.write(Path.of(dir, name + ".png"), ((TakesScreenshot) driver)
          .getScreenshotAs(OutputType.BYTES));
    }
  }

  private static int cli(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int exit = Main.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(out, true, StandardCharsets.UTF_8));
    System.out.print(out.toString(StandardCharsets.UTF_8));
    return exit;
  }

  private static Path firstExisting(String env, String... candidates) {
    String override = System.getenv(env);
    if (override != null && !override.isEmpty()) {
      return new File(override).canExecute() ? Path.of(override) : null;
    }
    for (String c : candidates) {
      if (new File(c).canExecute()) {
        return Path.of(c);
      }
    }
    return null;
  }
}
