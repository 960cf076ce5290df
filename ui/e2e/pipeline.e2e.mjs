// The UI's end-to-end test: Debian's chromium, driven by playwright-core,
// against a running `kargo local --demo` (test/ui starts it): the
// kargo-demo pipeline (Warehouse kargo-demo -> test -> uat -> prod), its
// first Freight already auto-promoted into test, and the seed's bob, who may
// promote to uat only. Run it
// with `go test ./test/ui/`, which passes:
//
//   KARGO_UI_URL          the sign-in link kargo local printed (#token=...)
//   KARGO_PROJECT         kargo-demo
//   KARGO_FREIGHT_ALIAS   the Freight's alias; KARGO_FREIGHT_NAME its name
//   KARGO_BOB_TOKEN       a bearer token of bob's
//   KARGO_CHROMIUM        the browser; KARGO_SCREENSHOT_DIR where the
//                         pipeline's screenshot goes
//
// Each step waits for what a user would see, never for a fixed time; the
// first thing not seen within its timeout fails the run, saying what.

import { strict as assert } from "node:assert";
import path from "node:path";
import { audit } from "./axe.mjs";
import { launchChromium } from "./browser.mjs";
import { eventually, text } from "./wait.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through go test ./test/ui/`);
  return v;
};
const uiURL = env("KARGO_UI_URL");
const project = env("KARGO_PROJECT");
const alias = env("KARGO_FREIGHT_ALIAS");
const freightName = env("KARGO_FREIGHT_NAME");
const bobToken = env("KARGO_BOB_TOKEN");
const screenshotDir = env("KARGO_SCREENSHOT_DIR");
const renamed = "ui-renamed";

const timeout = 30_000;

function step(what) {
  console.log(`- ${what}`);
}

// eventually polls f until it returns true, failing with what after timeout.

const browser = await launchChromium();
let failed = false;
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(e.message));
  // Refusals the test provokes are expected; anything else failing is not.
  page.on("response", (r) => {
    if (r.status() >= 400 && !r.url().includes("/api/v1/")) consoleErrors.push(`${r.status()} ${r.url()}`);
  });

  step("the sign-in link of kargo local signs in as its administrator");
  await page.goto(uiURL);
  await page.getByLabel("Signed in as").waitFor();
  assert.equal(await text(page.getByLabel("Signed in as")), "kargo-local-admin");
  assert.ok(!page.url().includes("token="), `the token is left in the address bar: ${page.url()}`);

  step("the sign-in link opens the project, the only one the administrator can see");
  await page.waitForURL(`**/projects/${project}`);
  await page.getByRole("article", { name: "Stage test" }).waitFor();

  step("the kargo link shows the project list, which leads back to the project");
  await page.getByRole("link", { name: "kargo", exact: true }).click();
  await page.getByRole("heading", { name: "Projects" }).waitFor();
  await page.getByRole("link", { name: project }).click();
  await page.waitForURL(`**/projects/${project}`);

  step("the pipeline shows the Warehouse and the Stages, left to right");
  const card = (name) => page.getByRole("article", { name });
  for (const name of ["Warehouse kargo-demo", "Stage test", "Stage uat", "Stage prod"]) await card(name).waitFor();
  const x = async (name) => (await card(name).boundingBox()).x;
  assert.ok((await x("Warehouse kargo-demo")) < (await x("Stage test")), "the Warehouse is left of test");
  assert.ok((await x("Stage test")) < (await x("Stage uat")), "test is left of uat");
  assert.ok((await x("Stage uat")) < (await x("Stage prod")), "uat is left of prod");
  // The PromotionPolicy brought the demo's first Freight into test.
  assert.equal(await text(card("Stage test").getByLabel("Current Freight")), alias);
  assert.match(await text(card("Stage uat").getByLabel("Current Freight")), /no Freight yet/);
  await page.getByRole("status", { name: "Live updates" }).filter({ hasText: "live" }).waitFor();

  step("the timeline shows the Freight by alias, with its full name on hover");
  const row = (a) => page.getByRole("listitem").filter({ has: page.getByLabel(`Freight ${a}`, { exact: true }) });
  await row(alias).waitFor();
  assert.equal(await row(alias).locator(".alias").getAttribute("title"), freightName);

  step("pointing at the Freight in the timeline highlights test, where it is current, and dims uat and prod");
  const node = (name) => card(name).locator("xpath=..");
  const described = (name) =>
    card(name).evaluate((el) => {
      const id = el.getAttribute("aria-describedby");
      return id ? (document.getElementById(id)?.textContent ?? "") : "";
    });
  const lit = async () => {
    const out = {};
    for (const name of ["Warehouse kargo-demo", "Stage test", "Stage uat", "Stage prod"]) {
      const cls = (await node(name).getAttribute("class")).split(" ");
      out[name] = cls.includes("spot") ? "lit" : cls.includes("dimmed") ? "dimmed" : "plain";
    }
    return out;
  };
  const spotStatus = page.getByRole("status", { name: "Highlighted Freight" });
  await row(alias).locator(".artifacts").hover();
  await eventually("test is highlighted, uat and prod dimmed", async () => (await described("Stage test")) !== "");
  assert.deepEqual(await lit(), { "Warehouse kargo-demo": "lit", "Stage test": "lit", "Stage uat": "dimmed", "Stage prod": "dimmed" });
  assert.match(await described("Stage test"), new RegExp(`^Freight ${alias} is current( and verified)? here\\.$`));
  assert.equal(await described("Stage prod"), `Freight ${alias} is not in this Stage.`);
  assert.match(await text(spotStatus), new RegExp(`^${alias}: current in 1 Stage`));
  await page.screenshot({ path: path.join(screenshotDir, "ui-highlight.png") });
  step(`screenshot: ${path.join(screenshotDir, "ui-highlight.png")}`);
  await page.getByRole("heading", { name: project, exact: true }).hover();
  await eventually("the highlight ends when the pointer leaves the row", async () => (await described("Stage test")) === "");
  assert.deepEqual(await lit(), { "Warehouse kargo-demo": "plain", "Stage test": "plain", "Stage uat": "plain", "Stage prod": "plain" });

  step("the keyboard focus in the Freight's row highlights the same, until it leaves the row");
  await page.getByLabel("Find a Stage or Warehouse").focus();
  // Tab from the pipeline's tools into the timeline: the first stop in it
  // is the Freight's alias.
  for (let i = 0; i < 20 && !(await row(alias).evaluate((el) => el.contains(document.activeElement))); i++) await page.keyboard.press("Tab");
  assert.ok(await row(alias).evaluate((el) => el.contains(document.activeElement)), "Tab reaches the Freight's row");
  await eventually("test is highlighted on focus", async () => (await lit())["Stage uat"] === "dimmed");
  assert.match(await described("Stage test"), new RegExp(`^Freight ${alias} is current`));
  await page.keyboard.press("Shift+Tab");
  await eventually("the highlight ends when the focus leaves the row", async () => (await described("Stage test")) === "");

  step("drag the pipeline to pan it, the arrow keys too, and a touch swipe");
  const region = page.getByRole("region", { name: "Pipeline" });
  const zoomIn = page.getByRole("button", { name: "Zoom in" });
  for (let i = 0; i < 3; i++) await zoomIn.click();
  assert.equal(await text(page.getByLabel("Zoom", { exact: true })), "195%");
  const scroll = () => region.evaluate((el) => ({ left: el.scrollLeft, top: el.scrollTop, room: el.scrollWidth - el.clientWidth }));
  const before = await scroll();
  assert.equal(before.left, 0);
  assert.ok(before.room > 300, `at 195% the pipeline is wider than its region (${before.room}px to pan)`);
  // Press on Stage uat's phase (text, not a link) and drag left.
  const from = await card("Stage uat").getByLabel("Phase").boundingBox();
  const urlBefore = page.url();
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  for (let dx = 30; dx <= 300; dx += 30) await page.mouse.move(from.x + from.width / 2 - dx, from.y + from.height / 2);
  await page.mouse.up();
  const dragged = await scroll();
  assert.ok(Math.abs(dragged.left - 300) <= 2, `a 300px drag to the left pans 300px right: scrollLeft ${dragged.left}`);
  assert.equal(page.url(), urlBefore, "a drag is not a click on the card");
  await region.focus();
  await page.keyboard.press("ArrowRight");
  assert.equal((await scroll()).left, dragged.left + 60, "ArrowRight pans 60px");
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowLeft");
  assert.equal((await scroll()).left, dragged.left - 60, "ArrowLeft pans back");
  await page.keyboard.press("-");
  assert.equal(await text(page.getByLabel("Zoom", { exact: true })), "156%", "- zooms out");
  await page.keyboard.press("+");
  await page.getByRole("button", { name: "Fit" }).click();

  {
    // A finger swiping right moves the view left: the browser's own touch
    // scrolling, which the drag handler leaves alone. On a touch screen.
    // bypassCSP lets axe-core in, for the audit of the highlight.
    const touch = await browser.newContext({ viewport: { width: 1400, height: 900 }, hasTouch: true, bypassCSP: true });
    const tp = await touch.newPage();
    tp.setDefaultTimeout(timeout);
    await tp.goto(uiURL);
    const region = tp.getByRole("region", { name: "Pipeline" });
    await tp.getByRole("article", { name: "Stage prod" }).waitFor();
    step("axe-core finds no serious or critical violation while a Freight is highlighted");
    await tp.getByLabel(`Freight ${alias}`, { exact: true }).locator(".artifacts").hover();
    await tp.locator(".node.dimmed").first().waitFor();
    assert.deepEqual(await audit(tp), [], "axe-core's serious and critical violations");
    await tp.mouse.move(5, 5);
    for (let i = 0; i < 3; i++) await tp.getByRole("button", { name: "Zoom in" }).click();
    await region.evaluate((el) => (el.scrollLeft = 400));
    const box = await region.boundingBox();
    const cdp = await touch.newCDPSession(tp);
    const y = Math.round(box.y + box.height / 2);
    const x0 = Math.round(box.x + box.width / 2 - 100);
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [{ x: x0, y }] });
    for (let dx = 10; dx <= 200; dx += 10) await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [{ x: x0 + dx, y }] });
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    await eventually("a 200px swipe to the right scrolls the pipeline left", async () => (await region.evaluate((el) => el.scrollLeft)) < 300);
    await touch.close();
  }

  // A marker that a reload would wipe: every later change must arrive live.
  await page.evaluate(() => (window.__notReloaded = true));

  step("promote: only the Stages the Freight is available to are offered");
  await page.getByRole("button", { name: `Promote ${alias}` }).click();
  let dialog = page.getByRole("dialog", { name: `Promote ${alias}` });
  await dialog.waitFor();
  const offered = await dialog.getByRole("radio").evaluateAll((els) => els.map((e) => e.value));
  assert.deepEqual(offered, ["test", "uat"], "verified in test, the Freight is available to uat (and test), not prod");
  await dialog.getByRole("radio", { name: "uat" }).check();
  await dialog.getByRole("button", { name: "Promote" }).click();
  await page.getByRole("status").filter({ hasText: `Promoting ${alias} to uat` }).waitFor();

  step("the Stage changes without a reload");
  await eventually("Stage uat shows the Freight as current", async () =>
    (await text(card("Stage uat").getByLabel("Current Freight"))) === alias,
  );
  await eventually("the timeline shows the Freight current in uat", async () =>
    (await row(alias).locator(".chip.current").allTextContents()).some((t) => t.includes("uat")),
  );
  assert.equal(await page.evaluate(() => window.__notReloaded), true, "the page was reloaded");

  step("approve the Freight for prod, then for uat: Stages and chips are in pipeline order");
  await page.getByRole("button", { name: `Approve ${alias}` }).click();
  dialog = page.getByRole("dialog", { name: `Approve ${alias}` });
  const choices = await dialog.getByRole("radio").evaluateAll((els) => els.map((e) => e.value));
  assert.deepEqual(choices, ["test", "uat", "prod"], "the Stages in pipeline order, not the alphabet's");
  await dialog.getByRole("radio", { name: "prod" }).check();
  await dialog.getByRole("button", { name: "Approve" }).click();
  await page.getByRole("status").filter({ hasText: `Approved ${alias} for prod` }).waitFor();
  await eventually("the timeline shows the approval", async () =>
    (await row(alias).locator(".chip.approved").allTextContents()).some((t) => t.includes("prod")),
  );
  await page.getByRole("button", { name: `Approve ${alias}` }).click();
  dialog = page.getByRole("dialog", { name: `Approve ${alias}` });
  await dialog.getByRole("radio", { name: "uat" }).check();
  await dialog.getByRole("button", { name: "Approve" }).click();
  await page.getByRole("status").filter({ hasText: `Approved ${alias} for uat` }).waitFor();
  await eventually("the approvals' chips read uat, prod: upstream first", async () => {
    const chips = (await row(alias).locator(".chip.approved").allTextContents()).map((t) => t.replace("★", "").trim());
    return chips.join(",") === "uat,prod";
  });

  step("rename the alias; the timeline and the Stage follow");
  await page.getByRole("button", { name: `Rename ${alias}` }).click();
  dialog = page.getByRole("dialog", { name: `Rename ${alias}` });
  await dialog.getByLabel("Alias").fill(renamed);
  await dialog.getByRole("button", { name: "Rename" }).click();
  await row(renamed).waitFor();
  await eventually("Stages test and uat show the new alias", async () =>
    (await text(card("Stage test").getByLabel("Current Freight"))) === renamed &&
    (await text(card("Stage uat").getByLabel("Current Freight"))) === renamed,
  );
  assert.equal(await page.evaluate(() => window.__notReloaded), true, "the page was reloaded");

  // Let the success notices fade from the picture: dismiss them.
  const dismiss = page.getByRole("button", { name: "Dismiss" });
  while ((await dismiss.count()) > 0) await dismiss.first().click();
  await page.screenshot({ path: path.join(screenshotDir, "ui-pipeline.png") });
  step(`screenshot: ${path.join(screenshotDir, "ui-pipeline.png")}`);
  assert.deepEqual(consoleErrors, [], "the page logged errors");

  step("a saved token the server no longer accepts leads to the sign-in page, in browser terms");
  await page.evaluate(() => window.localStorage.setItem("kargo.token", "revoked-token"));
  await page.goto(uiURL.replace(/\/?#.*$/, "") + `/projects/${project}`);
  const form = page.getByRole("form", { name: "Sign in" });
  await form.getByRole("alert").waitFor();
  let said = await text(form.getByRole("alert"));
  assert.match(said, /not accepted.*Sign in again\.$/, `the sign-in page says what to do: ${said}`);
  assert.doesNotMatch(said, /kargo login/, `a browser user is not told to run the CLI: ${said}`);

  step("a pasted token that is refused says so, in browser terms");
  await form.getByLabel("Bearer token").fill("not-a-token");
  await form.getByRole("button", { name: "Sign in" }).click();
  await form.getByRole("alert").filter({ hasText: "not accepted" }).waitFor();
  said = await text(form.getByRole("alert"));
  assert.match(said, /Sign in again\.$/, said);
  assert.doesNotMatch(said, /kargo login/, said);

  step("sign in as bob with a token");
  await form.getByLabel("Bearer token").fill(bobToken);
  await form.getByRole("button", { name: "Sign in" }).click();
  await eventually("bob is signed in", async () =>
    (await text(page.getByLabel("Signed in as"))) === "bob",
  );
  await page.goto(uiURL.replace(/\/?#.*$/, "") + `/projects/${project}`);

  step("bob may rename nothing and approve for no Stage left: those buttons are disabled, saying why");
  const rename = page.getByRole("button", { name: `Rename ${renamed}` });
  await eventually("Rename is disabled for bob, saying why", async () => (await rename.isDisabled()) && !!(await rename.getAttribute("title")));
  assert.match(await rename.getAttribute("title"), /user "bob" may not update freights/);
  // Approved for uat and prod already, the Freight could be approved for
  // test only, where bob holds no promote verb.
  const approve = page.getByRole("button", { name: `Approve ${renamed}` });
  await eventually("Approve is disabled for bob, saying why", async () => (await approve.isDisabled()) && !!(await approve.getAttribute("title")));
  assert.match(await approve.getAttribute("title"), /user "bob" may not promote to Stage "test"/);

  step("bob may promote into uat only: prod and test are disabled in the dialog, with the reason on hover");
  await page.getByRole("button", { name: `Promote ${renamed}` }).click();
  dialog = page.getByRole("dialog", { name: `Promote ${renamed}` });
  const offeredToBob = await dialog.getByRole("radio").evaluateAll((els) => els.map((e) => `${e.value}${e.disabled ? " (disabled)" : ""}`));
  assert.deepEqual(offeredToBob, ["test (disabled)", "uat", "prod (disabled)"], "pipeline order, and only uat for bob");
  const prodChoice = dialog.locator("label").filter({ has: page.getByRole("radio", { name: "prod" }) });
  const reason = await prodChoice.getAttribute("title");
  assert.match(reason, /user "bob" may not promote to Stage "prod"/, `the hover names the user, verb and Stage: ${reason}`);
  assert.match(await text(prodChoice), /not permitted/);
  console.log(`  prod on hover: ${reason}`);
  await prodChoice.hover();
  await page.screenshot({ path: path.join(screenshotDir, "ui-permissions.png") });
  step(`screenshot: ${path.join(screenshotDir, "ui-permissions.png")}`);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  assert.match(await text(card("Stage prod").getByLabel("Current Freight")), /no Freight yet/, "prod is unchanged");
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.stack ?? e}`);
  if (page) {
    const shot = path.join(screenshotDir, "ui-failure.png");
    await page.screenshot({ path: shot }).catch(() => {});
    console.error(`what the page showed: ${shot}`);
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
