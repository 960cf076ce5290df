// The signed-in user's bearer token lives in the browser's localStorage,
// so that it survives a reload and is shared by the tabs of one browser.
// kargo local prints a link with its administrator's token in the URL
// fragment (#token=...), which is never sent to a server; the UI takes it
// from there and removes it from the address bar.

const key = "kargo.token";

export function takeTokenFromLocation(): void {
  const hash = window.location.hash.replace(/^#/, "");
  const params = new URLSearchParams(hash);
  const token = params.get("token");
  if (!token) return;
  saveToken(token);
  params.delete("token");
  const rest = params.toString();
  window.history.replaceState(null, "", window.location.pathname + window.location.search + (rest ? `#${rest}` : ""));
}

export function savedToken(): string | null {
  return window.localStorage.getItem(key);
}

export function saveToken(token: string): void {
  window.localStorage.setItem(key, token.trim());
}

export function forgetToken(): void {
  window.localStorage.removeItem(key);
}
