/** The parsed JSON of a body, or undefined when it is not JSON (error pages, empty bodies). */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
