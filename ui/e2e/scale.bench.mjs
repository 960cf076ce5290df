// The UI's scale benchmark: Debian's chromium, driven by playwright-core,
// loads a project of 10,000 Freight and 200 Stages that test/ui's
// BenchmarkUIAtScale prepared in a running `kargo local`, and measures
// what a user waits for. Each load is in a fresh browser context (nothing
// cached), signed in with the local admin's token.
//
//   KARGO_UI_URL      the sign-in link kargo local printed (#token=...)
//   KARGO_PROJECT     the project; KARGO_STAGES and KARGO_FREIGHT its sizes
//   KARGO_BENCH_RUNS  how many loads (default 7)
//   KARGO_LIVE        stage=freight,...: promotions to ask for through the
//                     API while the pipeline is open, one at a time, each
//                     timed until its Stage card shows the Freight
//   KARGO_CHROMIUM    the browser
//   KARGO_BENCH_PROFILE_DIR  where to write JavaScript CPU profiles of one
//                     more load, Stage view and live updates, after the
//                     measured ones (default: $TMPDIR/kargo-ui-profiles);
//                     open them in Chromium's DevTools, Performance panel
//
// It prints one line of JSON, which the Go benchmark reports. Times within
// the page are from performance.now(); the live updates' are wall-clock
// milliseconds (performance.timeOrigin + performance.now()), which the
// benchmark compares with when it saw the status write.

import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { launchChromium } from "./browser.mjs";

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set: run this through go test -bench BenchmarkUIAtScale ./test/ui/`);
  return v;
};
const uiURL = new URL(env("KARGO_UI_URL"));
const token = new URLSearchParams(uiURL.hash.slice(1)).get("token");
const project = env("KARGO_PROJECT");
const stages = Number(env("KARGO_STAGES"));
const freight = Number(env("KARGO_FREIGHT"));
const runs = Number(env("KARGO_BENCH_RUNS", "7"));
const live = env("KARGO_LIVE", "")
  .split(",")
  .filter(Boolean)
  .map((kv) => kv.split("="));
const origin = uiURL.origin;

const browser = await launchChromium("--enable-precise-memory-info");

// untilThere resolves with performance.now() at the first DOM change
// after which selector matches, seen by a MutationObserver (so that the
// moment is when the page changed, not a poll's period later).
const untilThere = (page, selector) =>
  page.evaluate(
    (selector) =>
      new Promise((resolve) => {
        const check = () => {
          if (!document.querySelector(selector)) return false;
          obs.disconnect();
          resolve(performance.now());
          return true;
        };
        const obs = new MutationObserver(check);
        if (!check()) obs.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
      }),
    selector,
  );

const pipelineDrawn = ({ stages, freight }) =>
  document.querySelectorAll('article[aria-label^="Stage "]').length === stages &&
  document.querySelector('[aria-label="Freight"] [role="listitem"]') !== null &&
  document.querySelector(".timeline h2 .muted")?.textContent === String(freight)
    ? performance.now()
    : false;

// promote asks for a promotion through the API, as the page's own client
// would.
const promote = (page, s, f) =>
  page.evaluate(
    async ({ project, s, f, token }) => {
      const res = await fetch(`/api/v1/projects/${project}/stages/${s}/promote`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ freight: f }),
      });
      if (!res.ok) throw new Error(`promote ${f} to ${s}: ${res.status} ${await res.text()}`);
    },
    { project, s, f, token },
  );

// backTo are the Freight the live updates' Stages held before, for the
// profiled live updates to promote back.
const backTo = [];

const result = { firstRenderMs: [], openStageMs: [], scrollToEndMs: [], openDialogMs: [], liveAt: [], domNodes: 0, timelineRows: 0, heapMB: 0 };
try {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.addInitScript((t) => window.localStorage.setItem("kargo.token", t), token);
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);

    // First render: from the start of navigation until every Stage card is
    // drawn and the timeline shows its first row and its full count.
    await page.goto(`${origin}/projects/${project}`);
    const rendered = await page.waitForFunction(pipelineDrawn, { stages, freight }, { polling: "raf" });
    result.firstRenderMs.push(await rendered.jsonValue());

    if (i === 0) {
      // The memory and the DOM of the pipeline as it opens.
      result.domNodes = await page.evaluate(() => document.getElementsByTagName("*").length);
      result.heapMB = await page.evaluate(() => (performance.memory?.usedJSHeapSize ?? 0) / 1e6);
    }

    // Open a Stage view from its card (a different Stage each load): from
    // the click until the view shows the Stage, its current Freight and its
    // promotion history.
    const stage = `l${i % 20}-s${i % 10}`;
    const shown = untilThere(page, `section[aria-label="Stage ${stage}"] section[aria-label="Promotion history"]`);
    const t0 = await page.evaluate((s) => {
      const t = performance.now();
      document.querySelector(`a[aria-label="Open Stage ${s}"]`).click();
      return t;
    }, stage);
    const t1 = await shown;
    result.openStageMs.push(t1 - t0);
    await page.goBack();
    await page.waitForFunction(pipelineDrawn, { stages, freight }, { polling: "raf" });

    // Scroll to the oldest Freight: until its row is drawn.
    result.scrollToEndMs.push(
      await page.evaluate(
        (freight) =>
          new Promise((resolve) => {
            const list = document.querySelector('[aria-label="Freight"]');
            const start = performance.now();
            list.scrollTop = list.scrollHeight;
            const check = () =>
              document.querySelector(`[role="listitem"][aria-posinset="${freight}"]`)
                ? resolve(performance.now() - start)
                : requestAnimationFrame(check);
            check();
          }),
        freight,
      ),
    );

    // Open the promote dialog of the oldest Freight: until it is drawn.
    const d0 = await page.evaluate(() => performance.now());
    await page.locator(`[role="listitem"][aria-posinset="${freight}"] button`, { hasText: "Promote" }).click();
    await page.getByRole("dialog").waitFor();
    result.openDialogMs.push((await page.evaluate(() => performance.now())) - d0);

    if (i === runs - 1) {
      result.timelineRows = await page.evaluate(() => document.querySelectorAll('[aria-label="Freight"] [role="listitem"]').length);
      // Live updates: each promotion asked for through the API, until its
      // Stage card shows the Freight as current. The card's current
      // Freight carries the Freight's name in its title.
      const before = await page.evaluate(
        (names) => names.map((s) => document.querySelector(`article[aria-label="Stage ${s}"] .current [title]`)?.getAttribute("title")),
        live.map(([s]) => s),
      );
      backTo.push(...live.map(([s], i) => [s, before[i]]).filter(([, f]) => f));
      for (const [s, f] of live) {
        const shown = untilThere(page, `article[aria-label="Stage ${s}"] .current [title="${f}"]`);
        await promote(page, s, f);
        const at = await shown;
        result.liveAt.push(await page.evaluate((at) => performance.timeOrigin + at, at));
      }
      result.heapAfterMB = await page.evaluate(() => (performance.memory?.usedJSHeapSize ?? 0) / 1e6);
    }
    await context.close();
  }
  await profile().catch((e) => console.error(`profiling failed (the figures stand): ${e.stack ?? e}`));
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));

// profile records JavaScript CPU profiles of one more load, opening a
// Stage view and three live updates: what to read when a figure misses its
// goal. Not measured: the profiler slows the page.
async function profile() {
  const dir = process.env.KARGO_BENCH_PROFILE_DIR || path.join(os.tmpdir(), "kargo-ui-profiles");
  mkdirSync(dir, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.addInitScript((t) => window.localStorage.setItem("kargo.token", t), token);
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  const cdp = await context.newCDPSession(page);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
  const around = async (name, what) => {
    await cdp.send("Profiler.start");
    await what();
    const { profile } = await cdp.send("Profiler.stop");
    writeFileSync(path.join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    console.error(`profile: ${path.join(dir, `${name}.cpuprofile`)}`);
  };
  await page.goto("about:blank");
  await around("first-render", async () => {
    await page.goto(`${origin}/projects/${project}`);
    await page.waitForFunction(pipelineDrawn, { stages, freight }, { polling: "raf" });
  });
  await around("open-stage", async () => {
    const shown = untilThere(page, `section[aria-label="Stage l1-s1"] section[aria-label="Promotion history"]`);
    await page.evaluate(() => document.querySelector(`a[aria-label="Open Stage l1-s1"]`).click());
    await shown;
  });
  await page.goBack();
  await page.waitForFunction(pipelineDrawn, { stages, freight }, { polling: "raf" });
  await around("live-update", async () => {
    for (const [s, f] of backTo.slice(0, 3)) {
      const shown = untilThere(page, `article[aria-label="Stage ${s}"] .current [title="${f}"]`);
      await promote(page, s, f);
      await shown;
    }
  });
  await context.close();
}
