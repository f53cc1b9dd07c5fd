import type { CodegenConfig } from "@graphql-codegen/cli";

// Typed documents from the printed schema: for frontends (client/, from client/operations.graphql)
// and for the project's own tests, tools and benchmarks (test/generated/).
const config: CodegenConfig = {
  schema: "schema.graphql",
  ignoreNoDocuments: true,
  emitLegacyCommonJSImports: false,
  generates: {
    "client/generated/": {
      documents: ["client/**/*.graphql"],
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { DateTime: "string", JSON: "unknown", ID: "string" },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
    "test/generated/": {
      documents: ["test/**/*.ts", "bench/**/*.ts", "scripts/**/*.ts", "!test/generated/**"],
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { DateTime: "string", JSON: "unknown", ID: "string" },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
