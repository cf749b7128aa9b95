import { parseDocument, LineCounter, Parser, Lexer } from "yaml";
const n = Number(process.argv[2]); const mode = process.argv[3];
let text;
if (mode === "flow") text = "[".repeat(n) + "]".repeat(n);
else if (mode === "map") text = "{a: ".repeat(n) + "}".repeat(n);
else { text = ""; for (let i = 0; i < n; i++) text += " ".repeat(i) + "a:\n"; }
const t0 = Date.now();
if (process.argv[4] === "lex") { let c = 0; for (const tok of new Lexer().lex(text)) c++; console.log("lex tokens", c, Date.now()-t0); process.exit(0); }
if (process.argv[4] === "parse") { let c = 0; for (const tok of new Parser().parse(text)) c++; console.log("cst docs", c, Date.now()-t0); process.exit(0); }
try {
  const doc = parseDocument(text, { prettyErrors: process.argv[4] !== "nopretty", lineCounter: new LineCounter() });
  console.log("errors", doc.errors.length, doc.errors[0]?.code, Date.now()-t0);
  doc.toJS({ maxAliasCount: 100 }); console.log("toJS ok", Date.now()-t0);
} catch (e) { console.log("threw", e.constructor.name, e.message.slice(0, 100)); }
