// GET cluster's answer, serialised once per stored document. Every request still reads etcd
// (handlers hold no etcd data: the answer is of the document read now); what is kept is the
// work done on a document's text, which gives the same answer for the same text: decoding and
// validating it, redacting the passwords, and writing the JSON. A cluster that did not change
// since the last GET (the common case: a console or kvctl polling) costs one string comparison.
import { decodeCluster } from "../lib/store/index.js";
import { publicCluster } from "./redact.js";

/** Per process, bounded: ~8 MB of texts and answers, none from a document over 256 kB. */
const MAX_CHARS = 8 * 1024 * 1024;
const MAX_DOC_CHARS = 256 * 1024;

export function clusterAnswers(): (ns: string, name: string, text: string) => string {
  const byCluster = new Map<string, { text: string; body: string }>();
  let chars = 0;
  return (ns, name, text) => {
    const key = `${ns}/${name}`;
    const kept = byCluster.get(key);
    if (kept !== undefined && kept.text === text) return kept.body;
    // A document that does not decode throws here, as a plain read would: nothing is kept.
    const body = JSON.stringify({
      data: { cluster: publicCluster(decodeCluster(ns, name, text)) },
    });
    if (kept !== undefined) {
      byCluster.delete(key);
      chars -= kept.text.length + kept.body.length;
    }
    if (text.length > MAX_DOC_CHARS) return body;
    // The oldest first (a Map iterates in insertion order) until the new one fits.
    for (const [oldKey, old] of byCluster) {
      if (chars + text.length + body.length <= MAX_CHARS) break;
      byCluster.delete(oldKey);
      chars -= old.text.length + old.body.length;
    }
    byCluster.set(key, { text, body });
    chars += text.length + body.length;
    return body;
  };
}
