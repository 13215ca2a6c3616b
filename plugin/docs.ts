// Field documentation for the schema, from the JSDoc of the TypeScript face's args interfaces
// (provider/*.ts): what TypeScript users read is what YAML, Python and Go users read.
// Read from the sources with the TypeScript parser, so there is one text, never a copy.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** interface name -> field -> doc text; {} when the sources or the parser are not at hand. */
export function interfaceDocs(sourceDir: string): Record<string, Record<string, string>> {
  let ts: typeof import('typescript');
  try {
    ts = require('typescript');
  } catch {
    return {};
  }
  if (!fs.existsSync(sourceDir)) return {};
  const out: Record<string, Record<string, string>> = {};
  for (const file of fs.readdirSync(sourceDir).filter((f) => f.endsWith('.ts'))) {
    const src = ts.createSourceFile(file, fs.readFileSync(path.join(sourceDir, file), 'utf8'), ts.ScriptTarget.ES2022, true);
    const visit = (node: import('typescript').Node) => {
      if (ts.isInterfaceDeclaration(node)) {
        const fields = (out[node.name.text] ??= {});
        for (const m of node.members) {
          if (!ts.isPropertySignature(m) || !m.name || !ts.isIdentifier(m.name)) continue;
          const text = ts
            .getJSDocCommentsAndTags(m)
            .map((d) => (typeof d.comment === 'string' ? d.comment : ''))
            .join(' ')
            .replace(/\s+/g, ' ')
            .trim();
          if (text) fields[m.name.text] = text;
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(src);
  }
  return out;
}
