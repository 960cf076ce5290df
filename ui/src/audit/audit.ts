// What the audit view shows of records, apart from React: the sinces it
// offers, the lines of the JSON-lines export (the CLI's -o jsonl), the
// command that exports the same records, and the sentence of an empty
// answer.

import type { AuditRecord } from "../api/types";

// sinces are the periods the view offers, as the API's since takes them.
export const sinces: { value: string; label: string }[] = [
  { value: "", label: "any time" },
  { value: "1h", label: "the last hour" },
  { value: "24h", label: "the last 24 hours" },
  { value: "7d", label: "the last 7 days" },
  { value: "30d", label: "the last 30 days" },
];

// jsonLines is the export of records: one whole record a line, with its
// apiVersion and kind, as `kargo get audit -o jsonl` writes them.
export function jsonLines(records: AuditRecord[]): string {
  return records.map((r) => `${JSON.stringify({ apiVersion: "kargo.akuity.io/v1alpha1", kind: "AuditRecord", ...r })}\n`).join("");
}

// exportCommand is the CLI's command for the same export.
export function exportCommand(project: string, stage: string, since: string): string {
  const args = ["kargo get audit", `--project ${project}`];
  if (stage) args.push(`--stage ${stage}`);
  if (since) args.push(`--since ${since}`);
  return `${args.join(" ")} -o jsonl > audit.jsonl`;
}

// exportFile names the export's file.
export function exportFile(project: string, stage: string, since: string): string {
  return ["audit", project, stage, since].filter(Boolean).join("-") + ".jsonl";
}

// emptyText says that no record matched, and what would make one.
export function emptyText(stage: string, since: string): string {
  const period = sinces.find((s) => s.value === since)?.label ?? `since ${since}`;
  const about = stage ? ` about Stage ${stage}` : "";
  if (!stage && !since) {
    return "No action has been taken through kargo in this project yet, or its records are past the trail's retention. Promotions, approvals, aborts, holds, aliases, refreshes, verifications and objects created, applied or deleted through kargo are recorded here.";
  }
  return `No action${about} was recorded in ${since ? period : "the trail"}.`;
}

// targetOf is the object a record acted on, in words.
export function targetOf(r: AuditRecord): string {
  return [r.target.kind, r.target.name].filter(Boolean).join(" ");
}
