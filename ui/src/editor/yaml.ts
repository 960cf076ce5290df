// What the YAML editor needs of YAML without a YAML library: writing an
// object as block YAML, and finding the line a field path of the server's
// validation message names.

const plain = /^[A-Za-z0-9_./@:-][A-Za-z0-9_./@:${}\s-]*$/;
const special = /^(true|false|null|yes|no|on|off|~|-?\d[\d_.eE+-]*|0x[0-9a-fA-F]+)$/i;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  const s = String(v);
  if (s !== "" && plain.test(s) && !special.test(s) && !s.endsWith(":") && !s.includes(": ") && !s.includes(" #") && s.trim() === s) return s;
  return JSON.stringify(s);
}

function isEmpty(v: unknown): boolean {
  return (Array.isArray(v) && v.length === 0) || (!!v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0);
}

function lines(v: unknown, indent: string): string[] {
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const item of v) {
      if (item && typeof item === "object" && !isEmpty(item)) {
        const inner = lines(item, indent + "  ");
        out.push(`${indent}- ${inner[0].trimStart()}`, ...inner.slice(1));
      } else {
        out.push(`${indent}- ${isEmpty(item) ? (Array.isArray(item) ? "[]" : "{}") : scalar(item)}`);
      }
    }
    return out;
  }
  const out: string[] = [];
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const key = scalar(k);
    if (val && typeof val === "object" && !isEmpty(val)) {
      out.push(`${indent}${key}:`, ...lines(val, Array.isArray(val) ? indent : indent + "  "));
    } else {
      out.push(`${indent}${key}: ${isEmpty(val) ? (Array.isArray(val) ? "[]" : "{}") : scalar(val)}`);
    }
  }
  return out;
}

// toYAML writes v (JSON: objects, arrays, scalars) as block YAML.
export function toYAML(v: unknown): string {
  return lines(v, "").join("\n") + "\n";
}

// editable is an object as a user edits it: without its status and the
// metadata the server keeps.
export function editable(obj: { apiVersion?: string; kind?: string; metadata: Record<string, unknown>; spec?: unknown }, apiVersion: string, kind: string): Record<string, unknown> {
  const { status: _status, ...rest } = obj as Record<string, unknown>;
  void _status;
  const m = obj.metadata as Record<string, unknown>;
  const metadata: Record<string, unknown> = { name: m.name, namespace: m.namespace };
  if (m.labels) metadata.labels = m.labels;
  const annotations = Object.fromEntries(
    Object.entries((m.annotations as Record<string, string>) ?? {}).filter(([k]) => k !== "kubectl.kubernetes.io/last-applied-configuration"),
  );
  if (Object.keys(annotations).length) metadata.annotations = annotations;
  return { apiVersion, kind, ...rest, metadata };
}

// fieldPaths are the field paths a Kubernetes validation message names:
// "spec.interval: Invalid value: ...", "spec.subscriptions.images[0].repoURL in body ...".
export function fieldPaths(message: string): string[] {
  const re = /(?:^|[\s,:([])((?:spec|metadata)(?:\.[A-Za-z0-9_-]+|\[\d+\])*)(?=:|\s+in body|\s|,|$)/g;
  const out = new Set<string>();
  for (const m of message.matchAll(re)) out.add(m[1]);
  return [...out];
}

// lineOf finds the line (from 1) of the field path in document doc (from
// 0) of text, by the YAML's indentation: the line of the deepest part of
// the path it finds, or undefined when even the first is missing.
export function lineOf(text: string, path: string, doc = 0): number | undefined {
  const all = text.split("\n");
  const content = (l: string) => l.trim() !== "" && !l.trimStart().startsWith("#");
  // The documents: ranges between "---" lines, empty ones skipped.
  const docs: [number, number][] = [];
  let from = 0;
  for (let i = 0; i <= all.length; i++) {
    if (i === all.length || /^---\s*$/.test(all[i])) {
      if (all.slice(from, i).some(content)) docs.push([from, i]);
      from = i + 1;
    }
  }
  if (!docs[doc]) return undefined;
  let [lo, hi] = docs[doc];
  let parent = -1;
  let found: number | undefined;
  const indentOf = (l: string) => l.length - l.trimStart().length;
  // keyAt is the key a line holds and the column it starts at ("- key:"
  // counts the dash).
  const keyAt = (l: string): [string, number] | undefined => {
    const m = /^(\s*)(- )?["']?([A-Za-z0-9_./-]+)["']?\s*:(\s|$)/.exec(l);
    return m ? [m[3], m[1].length + (m[2] ? 2 : 0)] : undefined;
  };
  for (const part of path.match(/[A-Za-z0-9_-]+|\[\d+\]/g) ?? []) {
    let hit = -1;
    let col: number;
    if (part.startsWith("[")) {
      const want = Number(part.slice(1, -1));
      let itemIndent = -1;
      let n = -1;
      for (let i = lo; i < hi; i++) {
        if (!/^\s*- /.test(all[i]) || indentOf(all[i]) < parent) continue;
        if (itemIndent < 0) itemIndent = indentOf(all[i]);
        if (indentOf(all[i]) !== itemIndent) continue;
        if (++n === want) {
          hit = i;
          break;
        }
      }
      if (hit < 0) break;
      col = itemIndent;
      lo = hit;
    } else {
      // The keys directly in the block are its least indented ones.
      let childCol = Infinity;
      for (let i = lo; i < hi; i++) {
        const k = keyAt(all[i]);
        if (k && k[1] > parent) childCol = Math.min(childCol, k[1]);
      }
      for (let i = lo; i < hi; i++) {
        const k = keyAt(all[i]);
        if (k && k[0] === part && k[1] === childCol) {
          hit = i;
          break;
        }
      }
      if (hit < 0) break;
      col = childCol;
      lo = hit + 1;
    }
    found = hit + 1;
    // The block ends at the next line no deeper than the part (a list
    // item of a key may sit at the key's own column).
    let j = hit + 1;
    while (j < hi && (!content(all[j]) || indentOf(all[j]) > col || (!part.startsWith("[") && indentOf(all[j]) === col && /^\s*- /.test(all[j])))) j++;
    hi = j;
    parent = col;
  }
  return found;
}
