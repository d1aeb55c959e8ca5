// Which fields a GraphQL document selects that an answer lacks. Reads on stdin
// [{"name", "query", "data"}] and prints {name: [missing field paths]} on one line. It parses
// the documents with graphql-js (the copy installed with Stigg's Node SDK, via NODE_PATH) and
// walks each answer along the selection sets, following fragment spreads and inline fragments
// whose type condition is the object's __typename, an abstract type (a union or interface the
// object may belong to), or any type when the object has no __typename. A null is accepted
// anywhere (nullability needs the schema, which is not available here).
'use strict';

const { parse, Kind } = require('graphql');

const ABSTRACT_TYPES = new Set(['EntitlementUnion', 'ResetPeriodConfiguration']);

function applies(typeCondition, value) {
  if (!typeCondition) return true;
  const type = typeCondition.name.value;
  return ABSTRACT_TYPES.has(type) || value.__typename === undefined || value.__typename === type;
}

function check(selectionSet, value, path, fragments, missing) {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    value.forEach((item, index) => check(selectionSet, item, `${path}[${index}]`, fragments, missing));
    return;
  }
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      const key = (selection.alias || selection.name).value;
      const where = path ? `${path}.${key}` : key;
      if (!Object.prototype.hasOwnProperty.call(value, key)) {
        missing.push(where);
      } else if (selection.selectionSet) {
        check(selection.selectionSet, value[key], where, fragments, missing);
      }
    } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const fragment = fragments[selection.name.value];
      if (applies(fragment.typeCondition, value)) check(fragment.selectionSet, value, path, fragments, missing);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      if (applies(selection.typeCondition, value)) check(selection.selectionSet, value, path, fragments, missing);
    }
  }
}

let input = '';
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const results = {};
  for (const { name, query, data } of JSON.parse(input)) {
    const document = parse(query);
    const fragments = {};
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
    }
    const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
    const missing = [];
    check(operation.selectionSet, data, '', fragments, missing);
    results[name] = missing;
  }
  console.log(JSON.stringify(results));
});
