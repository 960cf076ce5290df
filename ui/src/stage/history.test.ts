import { describe, expect, it } from "vitest";
import type { Promotion } from "../api/types";
import { commitsOf, stagePromotions } from "./history";

const promo = (name: string, stage: string, created: string, status: Promotion["status"] = {}): Promotion =>
  ({ metadata: { name, creationTimestamp: created }, spec: { stage, freight: "f" }, status }) as Promotion;

describe("stagePromotions", () => {
  it("lists the Stage's Promotions, newest first", () => {
    const all = new Map(
      [promo("a", "test", "2026-01-01T00:00:00Z"), promo("b", "uat", "2026-01-02T00:00:00Z"), promo("c", "test", "2026-01-03T00:00:00Z")].map((p) => [p.metadata.name, p]),
    );
    expect(stagePromotions(all, "test").map((p) => p.metadata.name)).toEqual(["c", "a"]);
  });
});

describe("commitsOf", () => {
  it("reads the commits git-push steps report, with their links", () => {
    const p = promo("a", "test", "", { state: { push: { branch: "stages/test", commit: "4c286e4ee8a4", commitURL: "https://github.com/o/r/commit/4c286e4ee8a4" } } as never });
    expect(commitsOf(p)).toEqual([{ commit: "4c286e4ee8a4", branch: "stages/test", url: "https://github.com/o/r/commit/4c286e4ee8a4" }]);
  });

  it("reads what promotionMechanisms committed from the message", () => {
    const p = promo("a", "test", "", { message: "Promoted Freight x into test: committed 1a2b3c4 to https://git.example.com/r.git stages/test" });
    expect(commitsOf(p)).toEqual([{ commit: "1a2b3c4", branch: "stages/test" }]);
  });
});
