// YamlEditor creates or changes kargo resources (Warehouses, Stages,
// PromotionPolicies...) as YAML. Validate asks the API server for a dry
// run, which runs the same checks as the real thing (schema, kargo's
// admission webhooks, RBAC) and writes nothing; each refusal is shown word
// for word, beside the line its field path names. Apply validates first
// and writes only when everything passed.

import { useRef, useState } from "react";
import type { Client } from "../api/client";
import type { ObjectResult } from "../api/types";
import { fieldPaths, lineOf } from "./yaml";

interface Finding {
  result: ObjectResult;
  doc: number;
  lines: number[];
}

function findings(text: string, results: ObjectResult[]): Finding[] {
  return results.map((result, doc) => {
    const msg = result.error?.message ?? "";
    const lines = fieldPaths(msg)
      .map((p) => lineOf(text, p, doc))
      .filter((l): l is number => l !== undefined);
    return { result, doc, lines };
  });
}

export function YamlEditor({
  client,
  title,
  initial,
  onClose,
  onDone,
}: {
  client: Client;
  title: string;
  initial: string;
  onClose: () => void;
  onDone: (outcome: string) => void;
}) {
  const [text, setText] = useState(initial);
  const [checked, setChecked] = useState<{ text: string; findings: Finding[] }>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const gutter = useRef<HTMLDivElement>(null);
  const lineCount = text.split("\n").length;
  const current = checked?.text === text ? checked.findings : undefined;
  const bad = new Set((current ?? []).flatMap((f) => f.lines));

  const check = async (): Promise<Finding[] | undefined> => {
    setError(undefined);
    try {
      const res = await client.manifests("apply", text, true);
      const f = findings(text, res.results);
      setChecked({ text, findings: f });
      return f;
    } catch (e) {
      // The manifests as a whole were refused: they do not parse, say.
      setChecked(undefined);
      setError((e as Error).message);
      return undefined;
    }
  };
  const run = async (apply: boolean) => {
    setBusy(true);
    try {
      const f = await check();
      if (!apply || !f || f.some((x) => x.result.error)) return;
      const res = await client.manifests("apply", text, false);
      const failed = res.results.filter((r) => r.error);
      if (failed.length > 0) {
        setChecked({ text, findings: findings(text, res.results) });
        return;
      }
      onDone(res.results.map((r) => `${r.kind} ${r.name} ${r.action}`).join("; "));
      onClose();
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="overlay" onClick={onClose}>
      <div className="dialog card editor" role="dialog" aria-modal="true" aria-label={title} onClick={(e) => e.stopPropagation()} onKeyDown={(e) => e.key === "Escape" && onClose()}>
        <h2>{title}</h2>
        <div className="editor-body">
          <div className="gutter" ref={gutter} aria-hidden="true">
            {Array.from({ length: lineCount }, (_, i) => (
              <div key={i} className={bad.has(i + 1) ? "bad" : undefined}>
                {i + 1}
              </div>
            ))}
          </div>
          <textarea
            aria-label="YAML"
            spellCheck={false}
            value={text}
            onChange={(e) => setText(e.target.value)}
            onScroll={(e) => {
              if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
            }}
          />
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {current && (
          <ul className="plain findings" aria-label="Validation">
            {current.map((f) => (
              <li key={f.doc} className={f.result.error ? "error" : "ok"}>
                {f.result.error ? (
                  <>
                    {f.lines.length > 0 && <span className="mono">line {f.lines.join(", ")}: </span>}
                    {f.result.kind} {f.result.name}: {f.result.error.message}
                  </>
                ) : (
                  <>
                    ✓ {f.result.kind} {f.result.name}: {checked?.text === text && f.result.action ? `would be ${f.result.action}` : "valid"}
                  </>
                )}
              </li>
            ))}
          </ul>
        )}
        <div className="buttons">
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="secondary" disabled={busy} onClick={() => run(false)}>
            Validate
          </button>
          <button type="button" disabled={busy} onClick={() => run(true)}>
            Apply
          </button>
        </div>
      </div>
    </div>
  );
}
