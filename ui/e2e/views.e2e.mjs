// The pages of one object, end to end: Debian's chromium, driven by
// playwright-core, against `kargo local --demo` with a Stage of steps added
// (test/ui's TestViewsInTheBrowser starts it and passes):
//
//   KARGO_UI_URL            the sign-in link kargo local printed (#token=...)
//   KARGO_PROJECT           kargo-demo
//   KARGO_ALICE_TOKEN       alice: a promoter of the project
//   KARGO_BOB_TOKEN         bob: a viewer who may promote into uat only
//   KARGO_FREIGHT_ALIAS     the demo's first Freight; KARGO_FREIGHT_NAME its name
//   KARGO_STEPS_STAGE       the Stage whose promotion runs steps into the GitOps repository
//   KARGO_OLD_TAG, KARGO_NEW_TAG  the image tag its commit changes from and to
//   KARGO_CHROMIUM, KARGO_SCREENSHOT_DIR
//
// Each step waits for what a user would see, never for a fixed time.

import { strict as assert } from "node:assert";
import path from "node:path";
import { audit } from "./axe.mjs";
import { launchChromium } from "./browser.mjs";
import { atPath, eventually, text } from "./wait.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through go test ./test/ui/ -run TestViewsInTheBrowser`);
  return v;
};
const uiURL = env("KARGO_UI_URL");
const base = uiURL.replace(/\/?#.*$/, "");
const project = env("KARGO_PROJECT");
const aliceToken = env("KARGO_ALICE_TOKEN");
const bobToken = env("KARGO_BOB_TOKEN");
const alias = env("KARGO_FREIGHT_ALIAS");
const freightName = env("KARGO_FREIGHT_NAME");
const stepsStage = env("KARGO_STEPS_STAGE");
const oldTag = env("KARGO_OLD_TAG");
const newTag = env("KARGO_NEW_TAG");
const screenshotDir = env("KARGO_SCREENSHOT_DIR");

const timeout = 30_000;
const step = (what) => console.log(`- ${what}`);

// a11y collects the serious and critical violations axe-core finds on
// every page the script photographs.
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
try {
  // bypassCSP lets axe-core in: the UI's Content-Security-Policy admits
  // only its own scripts.
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, bypassCSP: true });
  page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && !/status of 40[13]/.test(m.text()) && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(e.message));

  step("alice signs in and opens the Stage of steps from the pipeline");
  await page.goto(`${base}/projects/${project}#token=${aliceToken}`);
  await eventually("alice is signed in", async () => (await text(page.getByLabel("Signed in as"))) === "alice");
  await page.getByRole("link", { name: `Open Stage ${stepsStage}` }).click();
  await atPath(page, new RegExp(`^/projects/${project}/stages/${stepsStage}$`));
  const stageView = page.getByRole("region", { name: `Stage ${stepsStage}` });
  await stageView.waitFor();
  assert.match(await text(stageView.getByRole("region", { name: "Current Freight" })), /No Freight yet/);
  assert.match(await text(stageView.getByRole("region", { name: "Health" })), /updates no Argo CD Application/);
  assert.match(await text(stageView.getByRole("region", { name: "Promotion history" })), /No promotion into this Stage yet/);
  await page.evaluate(() => (window.__notReloaded = true));

  step("alice promotes the Freight from the Stage's page and lands on the Promotion's page");
  const select = stageView.getByLabel("Freight", { exact: true });
  assert.equal(await select.inputValue(), freightName, "the newest Freight available is chosen");
  await stageView.getByRole("button", { name: "Promote", exact: true }).click();
  await atPath(page, new RegExp(`^/projects/${project}/promotions/.+`));
  const promoName = decodeURIComponent(page.url().split("/promotions/")[1]);
  const promoView = page.getByRole("region", { name: `Promotion ${promoName}` });
  await promoView.waitFor();

  step("the Promotion's page follows its steps live, to Succeeded");
  const seenStates = new Set();
  await eventually(
    "the Promotion succeeded",
    async () => {
      for (const s of await promoView.getByRole("listitem").filter({ has: page.getByLabel("State") }).all()) seenStates.add(await text(s.getByLabel("State")));
      return (await text(promoView.getByLabel("Phase", { exact: true }))) === "Succeeded";
    },
    120_000,
  );
  console.log(`  step states seen: ${[...seenStates].join(", ")}`);
  const stepsList = promoView.getByRole("list", { name: "Steps" });
  const aliases = await stepsList.getByRole("listitem").evaluateAll((els) => els.map((e) => e.getAttribute("aria-label")));
  assert.deepEqual(aliases, ["Step step-1", "Step update", "Step commit", "Step push"]);
  for (const a of ["step-1", "update", "commit", "push"]) {
    await eventually(`step ${a} Succeeded`, async () => (await text(stepsList.getByRole("listitem", { name: `Step ${a}` }).getByLabel("State"))) === "Succeeded");
  }
  const push = stepsList.getByRole("listitem", { name: "Step push" });
  assert.match(await text(push), /pushed [0-9a-f]{7} to stages\/ui-steps/, "the step's message");
  const outputs = push.getByRole("definition");
  assert.ok((await outputs.allTextContents()).includes(`stages/${stepsStage}`), "the push's outputs name the branch");
  assert.match(await text(promoView.getByLabel("Duration")), /^(<1s|\d+(s|m))/);
  assert.equal(await page.evaluate(() => window.__notReloaded), true, "the page was reloaded");

  step("the commit the Promotion made, with its diff read from the Git server");
  const commit = promoView.getByRole("article", { name: /^Commit [0-9a-f]{7}$/ });
  await commit.waitFor();
  const diff = commit.getByLabel("Diff of stages/test/kustomization.yaml");
  await diff.waitFor();
  assert.ok((await diff.locator(".del").allTextContents()).some((l) => l.includes(`newTag: ${oldTag}`)), "the old tag is removed");
  assert.ok((await diff.locator(".add").allTextContents()).some((l) => l.includes(`newTag: ${newTag}`)), "the new tag is added");
  assert.match(await text(commit), new RegExp(`branch stages/${stepsStage}`));
  await shot(page, "ui-promotion.png");

  step("back on the Stage's page: the Freight is current, the promotion is in the history with who, when, how long, the outcome and the commit");
  await promoView.getByRole("link", { name: stepsStage, exact: true }).click();
  await stageView.waitFor();
  await eventually("the Stage's current Freight", async () => (await text(stageView.getByRole("region", { name: "Current Freight" }))).includes(alias));
  const row = stageView.getByRole("row").filter({ has: page.getByRole("link", { name: promoName }) });
  await row.waitFor();
  const cells = await row.getByRole("cell").allTextContents();
  assert.equal(cells[1], alias);
  assert.equal(cells[2], "alice");
  assert.match(cells[3], /ago$/);
  assert.match(cells[4], /^(<1s|\d+(s|m))/);
  assert.equal(cells[5], "Succeeded");
  assert.match(cells[6], /^[0-9a-f]{7}$/);

  step("alice asks for verification again");
  await stageView.getByRole("button", { name: "Re-verify" }).click();
  await page.getByRole("status").filter({ hasText: `Verifying the current Freight of ${stepsStage} again` }).waitFor();
  // The Stage configures no verification: it is verified at once, and the
  // page says so (each check's result is shown when it has checks: see
  // StageView.test.tsx).
  assert.match(await text(stageView.getByRole("region", { name: "Verifications" })), /No verification has run|Successful/);
  await shot(page, "ui-stage.png");

  step("alice holds the Stage with a reason; releasing it needs the release verb, which a promoter lacks");
  await stageView.getByRole("button", { name: "Hold…" }).click();
  await stageView.getByLabel("Why").fill("database migration");
  await stageView.getByRole("form", { name: "Hold the Stage" }).getByRole("button", { name: "Hold" }).click();
  const held = stageView.getByRole("note", { name: "Held" });
  await held.waitFor();
  assert.match(await text(held), /Held by alice .*: database migration/);
  await stageView.getByRole("button", { name: "Release" }).click();
  const releaseRefused = stageView.getByRole("alert");
  await releaseRefused.waitFor();
  const why = await text(releaseRefused);
  assert.match(why, /alice/, `the refusal names the user: ${why}`);
  assert.match(why, /release/, `the refusal names the verb: ${why}`);
  console.log(`  release refused: ${why}`);
  assert.match(await text(held), /database migration/, "still held");

  step("the Freight's page: artifacts, where it is, and what changes against the Freight in a chosen Stage");
  await stageView.getByRole("region", { name: "Current Freight" }).getByRole("link", { name: alias }).click();
  const freightView = page.getByRole("region", { name: `Freight ${alias}` });
  await freightView.waitFor();
  await atPath(page, new RegExp(`^/projects/${project}/freight/${freightName}$`));
  assert.match(await text(freightView.getByLabel("Current in")), new RegExp(stepsStage));
  assert.match(await text(freightView.getByRole("region", { name: "Artifacts" })), new RegExp(`nginx:${newTag}`));
  // uat holds no Freight: everything the Freight brings is added there.
  await freightView.getByLabel("The Freight in").selectOption("uat");
  let changes = freightView.getByRole("table", { name: "Changes against uat" });
  await changes.waitFor();
  assert.ok((await changes.getByRole("row").allTextContents()).some((r) => r.includes(newTag) && r.includes("added")), "against an empty Stage, the image is added");
  // In test since the demo began, the Freight is the same there.
  await freightView.getByLabel("The Freight in").selectOption("test");
  changes = freightView.getByRole("table", { name: "Changes against test" });
  await changes.waitFor();
  assert.ok((await changes.getByRole("row").allTextContents()).slice(1).every((r) => r.endsWith("same")), "against the same Freight, nothing changes");
  await freightView.getByLabel("The Freight in").selectOption("uat");
  await shot(page, "ui-freight.png");

  step("the Warehouse's page: subscriptions, conditions, what discovery found, the Freight it produced");
  await freightView.getByRole("link", { name: "Warehouse kargo-demo" }).click();
  const whView = page.getByRole("region", { name: "Warehouse kargo-demo" });
  await whView.waitFor();
  assert.match(await text(whView.getByRole("region", { name: "Subscriptions" })), /nginx/);
  assert.match(await text(whView.getByRole("region", { name: "Discovered artifacts" })), new RegExp(`nginx:${newTag}`));
  await whView.getByRole("region", { name: "Freight produced" }).getByRole("link", { name: alias }).waitFor();
  await shot(page, "ui-warehouse.png");

  step("bob's Stage prod: Promote and Re-verify disabled with the server's reason on hover");
  await page.evaluate((t) => window.localStorage.setItem("kargo.token", t), bobToken);
  await page.goto(`${base}/projects/${project}/stages/prod`);
  await eventually("bob is signed in", async () => (await text(page.getByLabel("Signed in as"))) === "bob");
  const prod = page.getByRole("region", { name: "Stage prod" });
  await prod.waitFor();
  const promote = prod.getByRole("button", { name: "Promote", exact: true });
  await eventually("Promote is disabled for bob, saying why", async () => (await promote.isDisabled()) && !!(await promote.getAttribute("title")));
  // The button is disabled while the server is asked, and says why once
  // it has answered.
  const refused = /user "bob" may not promote to Stage "prod"/;
  await eventually("Promote gives the server's reason on hover", async () => refused.test((await promote.getAttribute("title")) ?? ""));
  const reverify = prod.getByRole("button", { name: "Re-verify" });
  await eventually("Re-verify gives the server's reason on hover", async () => refused.test((await reverify.getAttribute("title")) ?? ""));

  step("bob's Refresh is refused, with the server's reason");
  await prod.getByRole("button", { name: "Refresh" }).click();
  const refusal = prod.getByRole("alert");
  await refusal.waitFor();
  const said = await text(refusal);
  assert.match(said, /bob/, `the refusal names the user: ${said}`);
  assert.match(said, /stages/, `the refusal names what was refused: ${said}`);
  console.log(`  refused: ${said}`);

  step("bob's Warehouse Refresh is refused, with the server's reason");
  await page.goto(`${base}/projects/${project}/warehouses/kargo-demo`);
  const bobsWarehouse = page.getByRole("region", { name: "Warehouse kargo-demo" });
  await bobsWarehouse.getByRole("button", { name: "Refresh" }).click();
  await bobsWarehouse.getByRole("alert").waitFor();
  assert.match(await text(bobsWarehouse.getByRole("alert")), /bob.*warehouses/);

  step("bob's YAML edit of the Warehouse: the server's dry run refuses it, saying why");
  await bobsWarehouse.getByRole("button", { name: "Edit YAML" }).click();
  let editor = page.getByRole("dialog", { name: "Edit Warehouse kargo-demo" });
  await editor.getByRole("button", { name: "Validate" }).click();
  let findings = editor.getByRole("list", { name: "Validation" });
  await findings.waitFor();
  assert.match(await text(findings), /user "bob" may not patch warehouses\.kargo\.akuity\.io "kargo-demo"/);
  await editor.getByRole("button", { name: "Cancel" }).click();

  step("bob's Freight page: Rename disabled with the reason");
  await page.goto(`${base}/projects/${project}/freight/${freightName}`);
  const rename = page.getByRole("button", { name: "Rename…" });
  await eventually("Rename is disabled for bob, saying why", async () => (await rename.isDisabled()) && !!(await rename.getAttribute("title")));
  assert.match(await rename.getAttribute("title"), /user "bob" may not update freights/);

  step("bob, a viewer, sees the Promotion and its diff");
  await page.goto(`${base}/projects/${project}/promotions/${promoName}`);
  const bobsView = page.getByRole("region", { name: `Promotion ${promoName}` });
  await bobsView.getByLabel("Diff of stages/test/kustomization.yaml").waitFor();
  assert.equal(await text(bobsView.getByLabel("Phase", { exact: true })), "Succeeded");

  step("the administrator creates a Warehouse in the editor: the server's validation message beside its line, then applied");
  await page.goto(uiURL.replace(/\/?#/, `/projects/${project}/warehouses/kargo-demo#`));
  await eventually("the administrator is signed in", async () => (await text(page.getByLabel("Signed in as"))) === "kargo-local-admin");
  await page.getByLabel("New").selectOption("Warehouse");
  editor = page.getByRole("dialog", { name: "New Warehouse" });
  const yaml = editor.getByLabel("YAML");
  const wrong = (await yaml.inputValue())
    .replace("name: \n", "name: ui-warehouse\n")
    .replace("repoURL: \n", "repoURL: registry.invalid/ui\n")
    .replace("spec:\n", "spec:\n  interval: soon\n");
  await yaml.fill(wrong);
  await editor.getByRole("button", { name: "Validate" }).click();
  findings = editor.getByRole("list", { name: "Validation" });
  await eventually("the refusal names the line", async () => (await text(findings)).startsWith("line 7: "));
  assert.match(await text(findings), /spec\.interval/);
  assert.equal(await text(editor.locator(".gutter .bad")), "7", "the gutter marks the line");
  await shot(page, "ui-editor.png");
  await yaml.fill(wrong.replace("interval: soon", "interval: 30s"));
  await editor.getByRole("button", { name: "Validate" }).click();
  await findings.filter({ hasText: "would be created" }).waitFor();
  await editor.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("status").filter({ hasText: "Warehouse ui-warehouse created" }).waitFor();

  step("editing the demo's Warehouse, whose fields kargo local's demo owns: the server's conflict, word for word");
  await page.getByRole("region", { name: "Warehouse kargo-demo" }).getByRole("button", { name: "Edit YAML" }).click();
  editor = page.getByRole("dialog", { name: "Edit Warehouse kargo-demo" });
  const original = await editor.getByLabel("YAML").inputValue();
  assert.match(original, /^kind: Warehouse$/m);
  assert.doesNotMatch(original, /^status:/m, "status is not edited");
  await editor.getByLabel("YAML").fill(original.replace(/interval: \S+/, "interval: 30s"));
  await editor.getByRole("button", { name: "Validate" }).click();
  await editor.getByRole("list", { name: "Validation" }).filter({ hasText: "conflict" }).waitFor();
  await editor.getByRole("button", { name: "Cancel" }).click();

  step("a new PromotionPolicy from the template: the empty name is refused, then created");
  await page.getByLabel("New").selectOption("PromotionPolicy");
  editor = page.getByRole("dialog", { name: "New PromotionPolicy" });
  const tpl = await editor.getByLabel("YAML").inputValue();
  await editor.getByRole("button", { name: "Validate" }).click();
  await editor.getByRole("list", { name: "Validation" }).filter({ hasText: "PromotionPolicy" }).waitFor();
  assert.match(await text(editor.getByRole("list", { name: "Validation" })), /name/);
  await editor.getByLabel("YAML").fill(tpl.replace("name: \n", "name: ui-policy\n").replace("stage: \n", `stage: ${stepsStage}\n`).replace("true", "false"));
  await editor.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("status").filter({ hasText: "PromotionPolicy ui-policy created" }).waitFor();

  step("dark mode and a narrow screen: the project, a Stage and the Promotion, audited too");
  for (const [label, options] of [
    ["dark", { viewport: { width: 1400, height: 900 }, colorScheme: "dark" }],
    ["narrow", { viewport: { width: 390, height: 844 }, colorScheme: "light" }],
  ]) {
    const ctx = await browser.newContext({ ...options, bypassCSP: true });
    const p = await ctx.newPage();
    p.setDefaultTimeout(timeout);
    await p.goto(`${base}/projects/${project}#token=${aliceToken}`);
    await p.getByRole("article", { name: `Stage ${stepsStage}` }).waitFor();
    await p.getByRole("status", { name: "Live updates" }).filter({ hasText: "live" }).waitFor();
    await shot(p, `ui-${label}.png`);
    await p.goto(`${base}/projects/${project}/promotions/${promoName}`);
    await p.getByRole("region", { name: `Promotion ${promoName}` }).getByLabel("Diff of stages/test/kustomization.yaml").waitFor();
    await shot(p, `ui-${label}-promotion.png`);
    if (label === "narrow") {
      const width = await p.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390 + 1, `the narrow page scrolls sideways: ${width}px wide`);
    }
    await ctx.close();
  }

  step("keyboard: Tab reaches the pipeline's Stage links and Enter opens one");
  await page.goto(`${base}/projects/${project}#token=${aliceToken}`);
  await page.getByRole("article", { name: `Stage ${stepsStage}` }).waitFor();
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = (await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))) === `Open Stage ${stepsStage}`;
  }
  assert.ok(reached, "Tab never reached the Stage's link");
  await page.keyboard.press("Enter");
  await page.getByRole("region", { name: `Stage ${stepsStage}` }).waitFor();

  assert.deepEqual(a11y, [], "axe-core found serious or critical violations");
  assert.deepEqual(consoleErrors, [], "the page logged errors");
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.stack ?? e}`);
  if (page) {
    const file = path.join(screenshotDir, "ui-failure.png");
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.error(`what the page showed: ${file}`);
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
