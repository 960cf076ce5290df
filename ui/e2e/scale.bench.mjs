// The UI's scale benchmark: Debian's chromium, driven by playwright-core,
// loads a project of 1,000 Freight and 50 Stages that test/ui's
// BenchmarkUIAtScale prepared in a running `kargo local`, and measures
// what a user waits for. Each load is in a fresh browser context (nothing
// cached), signed in with the local admin's token.
//
//   KARGO_UI_URL      the sign-in link kargo local printed (#token=...)
//   KARGO_PROJECT     the project; KARGO_STAGES and KARGO_FREIGHT its sizes
//   KARGO_BENCH_RUNS  how many loads (default 5)
//   KARGO_CHROMIUM    the browser
//
// It prints one line of JSON, which the Go benchmark reports.

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
const runs = Number(env("KARGO_BENCH_RUNS", "5"));
const origin = uiURL.origin;

const browser = await launchChromium("--enable-precise-memory-info");

const result = { firstRenderMs: [], scrollToEndMs: [], openDialogMs: [], domNodes: 0, timelineRows: 0, heapMB: 0 };
try {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.addInitScript((t) => window.localStorage.setItem("kargo.token", t), token);
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);

    // First render: from the start of navigation until every Stage card is
    // drawn and the timeline shows its first row and its full count.
    await page.goto(`${origin}/projects/${project}`);
    const rendered = await page.waitForFunction(
      ({ stages, freight }) =>
        document.querySelectorAll('article[aria-label^="Stage "]').length === stages &&
        document.querySelector('[aria-label="Freight"] [role="listitem"]') !== null &&
        document.querySelector(".timeline h2 .muted")?.textContent === String(freight)
          ? performance.now()
          : false,
      { stages, freight },
      { polling: "raf" },
    );
    result.firstRenderMs.push(await rendered.jsonValue());

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
    const t0 = await page.evaluate(() => performance.now());
    await page.locator(`[role="listitem"][aria-posinset="${freight}"] button`, { hasText: "Promote" }).click();
    await page.getByRole("dialog").waitFor();
    result.openDialogMs.push((await page.evaluate(() => performance.now())) - t0);

    if (i === runs - 1) {
      result.domNodes = await page.evaluate(() => document.getElementsByTagName("*").length);
      result.timelineRows = await page.evaluate(() => document.querySelectorAll('[aria-label="Freight"] [role="listitem"]').length);
      result.heapMB = await page.evaluate(() => (performance.memory?.usedJSHeapSize ?? 0) / 1e6);
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
