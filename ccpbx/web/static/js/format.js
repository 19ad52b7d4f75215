// Small formatters shared by the console's pages.

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

export function percent(share) {
  if (share === null || share === undefined) return "–";
  return `${(share * 100).toFixed(share >= 0.995 || share === 0 ? 0 : 1)} %`;
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  return `${value.toFixed(value < 10 ? 1 : 0)} s`;
}

export function stateLabel(state) {
  return String(state || "").replaceAll("_", " ");
}

// One element with attributes and children (strings become text: never HTML).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) node.append(child);
  return node;
}
