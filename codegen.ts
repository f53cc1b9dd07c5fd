import type { CodegenConfig } from "@graphql-codegen/cli";

// Typed documents for the project's own tests, tools and benchmarks, from the printed schema.
const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["test/**/*.ts", "bench/**/*.ts", "!test/generated/**"],
  ignoreNoDocuments: true,
  emitLegacyCommonJSImports: false,
  generates: {
    "test/generated/": {
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
