// Monaco, its same-origin module workers, and the types of ctx from the API.
import * as monaco from 'jsrt:monaco';
// Monaco 0.57's TypeScript API lives in its own module, not in monaco.languages.typescript.
import { javascriptDefaults } from 'monaco-editor/languages/features/typescript/register.js';

const worker = (name) => document.querySelector(`meta[name="jsrt-${name}-worker"]`).content;
self.MonacoEnvironment = {
  getWorker(_id, label) {
    const url = new URL(label === 'typescript' || label === 'javascript' ? worker('ts') : worker('editor'), document.baseURI);
    return new Worker(url, { type: 'module', name: label });
  },
};

javascriptDefaults.setCompilerOptions({
  target: 99, module: 99, allowNonTsExtensions: true, checkJs: true, allowJs: true, noEmit: true,
  lib: ['es2023'],
});
javascriptDefaults.setDiagnosticsOptions({ noSemanticValidation: false, noSyntaxValidation: false });

let typesLoaded = false;
export function loadTypes(dts) {
  if (typesLoaded || !dts) return;
  typesLoaded = true;
  javascriptDefaults.addExtraLib(dts, 'file:///jsrt.d.ts');
}

export function createEditor(el, source, readOnly) {
  const model = monaco.editor.createModel(source, 'javascript', monaco.Uri.parse(`file:///script-${Date.now()}.js`));
  const ed = monaco.editor.create(el, { model, readOnly, automaticLayout: true, minimap: { enabled: false }, fontSize: 13 });
  return ed;
}

/** Marks an error at line:column (1-based), or clears the marks. */
export function mark(ed, error) {
  const model = ed.getModel();
  if (!model) return;
  const markers = error && error.line ? [{
    severity: monaco.MarkerSeverity.Error, message: error.message,
    startLineNumber: error.line, startColumn: error.column || 1,
    endLineNumber: error.line, endColumn: model.getLineMaxColumn(Math.min(error.line, model.getLineCount())),
  }] : [];
  monaco.editor.setModelMarkers(model, 'jsrt', markers);
  // (where the mark is, on the editor's element: what the browser test reads)
  ed.getContainerDomNode().dataset.mark = markers.length ? `${error.line}:${error.column || 1}` : '';
}

/** A diff of two sources; with `editable` the right side can be edited (a merge). */
export function createDiff(el, left, right, editable = false) {
  const ed = monaco.editor.createDiffEditor(el, { readOnly: !editable, originalEditable: false, automaticLayout: true, renderSideBySide: true });
  ed.setModel({ original: monaco.editor.createModel(left, 'javascript'), modified: monaco.editor.createModel(right, 'javascript') });
  return ed;
}
