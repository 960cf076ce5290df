// Diff shows the commits a Promotion made, each with the patch of every file
// it changed, as the API server read them from the Git server.

import type { FileDiff, PromotionCommit } from "../api/types";
import { age } from "../common/time";

const statusWord: Record<string, string> = { A: "added", M: "modified", D: "deleted", T: "type changed" };

function lineClass(line: string): string {
  if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff --git") || line.startsWith("index ")) return "meta";
  if (line.startsWith("@@")) return "hunk";
  if (line.startsWith("+")) return "add";
  if (line.startsWith("-")) return "del";
  return "";
}

function Patch({ file }: { file: FileDiff }) {
  const lines = (file.patch ?? "").replace(/\n$/, "").split("\n");
  return (
    <details className="file-diff" open>
      <summary>
        <span className="mono">{file.path}</span> <span className={`badge diff-${file.status}`}>{statusWord[file.status] ?? file.status}</span>
        {file.truncated && <span className="muted small"> (cut: the diff is larger than the server shows)</span>}
      </summary>
      {file.binary ? (
        <p className="muted small">Binary file.</p>
      ) : file.patch ? (
        <pre className="patch" aria-label={`Diff of ${file.path}`} tabIndex={0}>
          {lines.map((l, i) => (
            <span key={i} className={lineClass(l)}>
              {l}
              {"\n"}
            </span>
          ))}
        </pre>
      ) : null}
    </details>
  );
}

export function CommitDiff({ commit, now }: { commit: PromotionCommit; now: number }) {
  return (
    <article className="card commit" aria-label={`Commit ${commit.id.slice(0, 7)}`}>
      <header>
        <h3>
          <span className="mono" title={commit.id}>
            {commit.id.slice(0, 7)}
          </span>{" "}
          {commit.subject}
        </h3>
      </header>
      <p className="muted small">
        {commit.repoURL} · branch <span className="mono">{commit.branch}</span> · {commit.author}
        {commit.time ? ` · ${age(commit.time, now)} ago` : ""}
        {commit.parent ? (
          <>
            {" "}
            · parent <span className="mono">{commit.parent.slice(0, 7)}</span>
          </>
        ) : null}
      </p>
      {commit.files.length === 0 && <p className="muted small">No file changed.</p>}
      {commit.files.map((f) => (
        <Patch key={f.path} file={f} />
      ))}
      {(commit.moreFiles ?? 0) > 0 && <p className="muted small">… and {commit.moreFiles} more files, not shown.</p>}
    </article>
  );
}
