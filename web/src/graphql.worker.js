// monaco-graphql's worker: validation and completion in the query editor.
import 'monaco-graphql/esm/graphql.worker.js';
