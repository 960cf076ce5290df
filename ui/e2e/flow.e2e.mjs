// The audit trail and the promotion windows, end to end: Debian's
// chromium, driven by playwright-core, against `kargo local --demo` with a
// Stage and two PromotionWindows added (test/ui's TestFlowControlInTheBrowser
// starts it and passes):
//
//   KARGO_UI_URL            the sign-in link kargo local printed (#token=...)
//   KARGO_PROJECT           kargo-demo
//   KARGO_ALICE_TOKEN       alice: a promoter, who may override the window of KARGO_WINDOW_STAGE only
//   KARGO_BOB_TOKEN         bob: a viewer who may promote into uat only
//   KARGO_AUDITLESS_TOKEN   an API token that reads the project but not its audit trail;
//                           KARGO_AUDITLESS_USER its user name
//   KARGO_WINDOW_STAGE      the Stage KARGO_WINDOW closes (with uat), now, in Europe/Berlin
//   KARGO_LATER_WINDOW      the window that closes test in three hours, in America/New_York
//   KARGO_FREIGHT_NAME      the demo's first Freight
//   KARGO_CHROMIUM, KARGO_SCREENSHOT_DIR
//
// Each step waits for what a user would see, never for a fixed time.

import { strict as assert } from "node:assert";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { audit } from "./axe.mjs";
import { launchChromium } from "./browser.mjs";
import { atPath, eventually, text } from "./wait.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through go test ./test/ui/ -run TestFlowControlInTheBrowser`);
  return v;
};
const base = env("KARGO_UI_URL").replace(/\/?#.*$/, "");
const project = env("KARGO_PROJECT");
const aliceToken = env("KARGO_ALICE_TOKEN");
const bobToken = env("KARGO_BOB_TOKEN");
const auditlessToken = env("KARGO_AUDITLESS_TOKEN");
const auditlessUser = env("KARGO_AUDITLESS_USER");
const windowStage = env("KARGO_WINDOW_STAGE");
const win = env("KARGO_WINDOW");
const later = env("KARGO_LATER_WINDOW");
const freightName = env("KARGO_FREIGHT_NAME");
const screenshotDir = env("KARGO_SCREENSHOT_DIR");

const timeout = 30_000;
const step = (what) => console.log(`- ${what}`);

const sees = (locator, re) => eventually(`${locator} says ${re}`, async () => re.test(await text(locator)));

const a11y = [];
async function shot(page, name) {
  const dismiss = page.getByRole("button", { name: "Dismiss" });
  while ((await dismiss.count()) > 0) await dismiss.first().click();
  const file = path.join(screenshotDir, name);
  await page.screenshot({ path: file, fullPage: true });
  step(`screenshot: ${file}`);
  const found = await audit(page);
  for (const v of found) console.log(`  axe on ${name}: ${v}`);
  a11y.push(...found.map((v) => `${name}: ${v}`));
}

const browser = await launchChromium();
let failed = false;
let page;
const consoleErrors = [];
// signIn opens path as the token's owner in a browser context of its own.
async function signIn(token, where) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, bypassCSP: true });
  const p = await context.newPage();
  p.setDefaultTimeout(timeout);
  p.on("console", (m) => m.type() === "error" && !/status of 40[13]/.test(m.text()) && consoleErrors.push(m.text()));
  p.on("pageerror", (e) => consoleErrors.push(e.message));
  await p.goto(`${base}${where}#token=${token}`);
  return p;
}

try {
  step("alice sees on the Stage cards which promotion window decides, in its time zone, and until when");
  page = await signIn(aliceToken, `/projects/${project}`);
  await eventually("alice is signed in", async () => (await text(page.getByLabel("Signed in as"))) === "alice");
  const card = (s) => page.getByRole("article", { name: `Stage ${s}` });
  const windowOf = (s) => card(s).getByRole("note", { name: "Promotion window" });
  await sees(windowOf(windowStage), new RegExp(`^Window closed\\s+${win} until \\w{3} \\d\\d:\\d\\d Berlin$`));
  assert.match(
    (await windowOf(windowStage).getAttribute("title")) ?? "",
    new RegExp(`^Closed by Deny window ${win} until \\w{3} \\d+ \\w{3}, \\d\\d:\\d\\d \\(Europe/Berlin\\)\\.$`),
    "the whole sentence on hover",
  );
  await sees(windowOf("uat"), new RegExp(`^Window closed\\s+${win} until`));
  await sees(windowOf("test"), new RegExp(`^Open until \\w{3} \\d\\d:\\d\\d New York \\(${later}\\)$`));
  assert.match((await windowOf("test").getAttribute("title")) ?? "", new RegExp(`\\(America/New_York\\), when Deny window ${later} closes it\\.$`));
  assert.equal(await windowOf("prod").count(), 0, "no window selects prod: its card says nothing of windows");
  await page.getByRole("status", { name: "Live updates" }).filter({ hasText: "live" }).waitFor();
  await shot(page, "ui-windows.png");

  step("alice may override the window of her Stage: the Stage's page says so, and Promote says it overrides");
  await page.getByRole("link", { name: `Open Stage ${windowStage}` }).click();
  const stageView = page.getByRole("region", { name: `Stage ${windowStage}` });
  await stageView.waitFor();
  await sees(stageView.getByRole("note", { name: "Promotion windows" }), new RegExp(`Closed by Deny window ${win} until .*\\(Europe/Berlin\\)\\.\\s*\\(change freeze for the UI test\\)`));
  await sees(stageView.getByLabel("Window override"), /override-window verb on this Stage: Promote overrides the window now, and the audit trail records the override/);
  const override = stageView.getByRole("button", { name: "Promote, overriding the window" });
  await eventually("the override is offered", async () => await override.isEnabled());
  assert.equal(await stageView.getByLabel("Freight", { exact: true }).inputValue(), freightName);
  await shot(page, "ui-window-override.png");
  await override.click();
  await atPath(page, new RegExp(`^/projects/${project}/promotions/${windowStage}-.+`));

  step("alice may not override uat's window: Promote is disabled with the server's reason");
  await page.goto(`${base}/projects/${project}/stages/uat`);
  const uat = page.getByRole("region", { name: "Stage uat" });
  await uat.waitFor();
  await sees(uat.getByLabel("Why Promote is disabled"), /Promote is disabled while the window is closed: user "alice" may not override-window Stage "uat" in project "kargo-demo"/);
  assert.equal(await uat.getByRole("button", { name: "Promote", exact: true }).isDisabled(), true);

  step("alice reads the audit trail: who, when, what, target, outcome, newest first");
  await page.goto(`${base}/projects/${project}`);
  await page.getByRole("link", { name: "Audit trail" }).click();
  await atPath(page, new RegExp(`^/projects/${project}/audit$`));
  const trail = page.getByRole("region", { name: "Audit trail" });
  const row = trail.getByRole("row", { name: "promote by alice" }).filter({ hasText: "overrideWindow: true" });
  await row.waitFor();
  const cells = await row.getByRole("cell").allTextContents();
  assert.match(cells[0], /ago$/);
  assert.match(cells[1], /^alice.*system:authenticated/);
  assert.match(cells[2], /^promote.*overrideWindow: true/);
  assert.match(cells[3], new RegExp(`^Stage ${windowStage}`));
  assert.equal(cells[4], "Succeeded");
  await sees(trail.getByRole("status", { name: "Records shown" }), /^\d+ of \d+ records?, newest first$/);

  step("the Stage and since filters, and an honest empty answer");
  await trail.getByLabel("Stage").fill(windowStage);
  await sees(page.getByLabel("Showing"), new RegExp(`Audit trail of Stage ${windowStage}$`));
  await sees(trail.getByRole("status", { name: "Records shown" }), /^1 of 1 record, newest first$/);
  await trail.getByLabel("Since").selectOption("1h");
  await sees(trail.getByRole("status", { name: "Records shown" }), /^1 of 1 record/);
  assert.match(await text(trail), new RegExp(`kargo get audit --project ${project} --stage ${windowStage} --since 1h -o jsonl > audit.jsonl`));
  await shot(page, "ui-audit.png");

  step("the export: JSON lines, one whole record a line");
  const [download] = await Promise.all([page.waitForEvent("download"), trail.getByRole("button", { name: "Export JSON lines" }).click()]);
  assert.equal(download.suggestedFilename(), `audit-${project}-${windowStage}-1h.jsonl`);
  const lines = (await readFile(await download.path(), "utf8")).trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 1);
  assert.equal(lines[0].kind, "AuditRecord");
  assert.equal(lines[0].action, "promote");
  assert.equal(lines[0].actor.username, "alice");
  assert.equal(lines[0].details.overrideWindow, "true");
  await trail.getByRole("status").filter({ hasText: "Exported 1 record" }).waitFor();

  await trail.getByLabel("Stage").fill("prod");
  await sees(page.getByLabel("Showing"), /Audit trail of Stage prod$/);
  await trail.getByLabel("Since").selectOption("");
  await sees(trail.getByRole("status").filter({ hasText: "No action" }), /^No action about Stage prod was recorded in the trail\.$/);

  step("from a Stage's page, its own audit trail");
  await page.goto(`${base}/projects/${project}/stages/${windowStage}`);
  await page.getByRole("region", { name: `Stage ${windowStage}` }).getByRole("link", { name: "Audit trail" }).click();
  await atPath(page, new RegExp(`^/projects/${project}/audit$`));
  assert.equal(new URL(page.url()).searchParams.get("stage"), windowStage);
  assert.equal(await page.getByRole("region", { name: "Audit trail" }).getByLabel("Stage").inputValue(), windowStage);
  await page.getByRole("region", { name: "Audit trail" }).getByRole("row", { name: "promote by alice" }).waitFor();

  step("bob may promote into uat but not override its window: Promote is disabled, with the server's reason");
  const bob = await signIn(bobToken, `/projects/${project}/stages/uat`);
  const bobUat = bob.getByRole("region", { name: "Stage uat" });
  await bobUat.waitFor();
  const why = bobUat.getByLabel("Why Promote is disabled");
  await sees(why, /user "bob" may not override-window Stage "uat" in project "kargo-demo": that needs the "override-window" verb/);
  const promote = bobUat.getByRole("button", { name: "Promote", exact: true });
  assert.equal(await promote.isDisabled(), true);
  assert.match((await promote.getAttribute("title")) ?? "", /Closed by Deny window .*user "bob" may not override-window/);
  await shot(bob, "ui-window-refused.png");
  await bob.context().close();

  step("an API token without the right to read the audit trail sees the server's reason");
  const auditless = await signIn(auditlessToken, `/projects/${project}/audit`);
  const refused = auditless.getByRole("region", { name: "Audit trail" }).getByRole("alert");
  await sees(refused, /You may not read this project's audit trail/);
  assert.match(await text(refused), new RegExp(`user "${auditlessUser}" may not list auditrecords`));
  await shot(auditless, "ui-audit-refused.png");
  await auditless.context().close();

  assert.deepEqual(a11y, [], "axe-core found serious or critical violations");
  assert.deepEqual(consoleErrors, [], "the page logged errors");
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.stack ?? e}`);
  if (page) {
    const file = path.join(screenshotDir, "ui-flow-failure.png");
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.error(`what the page showed: ${file}`);
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
