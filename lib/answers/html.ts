export async function summaryHtml(_s: unknown): Promise<string> {
  return "";
}
export async function writeAtomic(_f: string, _t: string) {}
