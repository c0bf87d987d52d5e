/** The parts of an OpenAPI 3.0 document (as @fastify/swagger writes it) the reference reads. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; description?: string; version: string };
  components?: {
    schemas?: Record<string, JsonSchema>;
    securitySchemes?: Record<string, SecuritySchemeObject>;
  };
  security?: Record<string, string[]>[];
  paths: Record<string, Record<string, Operation>>;
}

export interface SecuritySchemeObject {
  type: string;
  in?: string;
  name?: string;
  scheme?: string;
  description?: string;
}

export interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, Response>;
}

export interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: JsonSchema;
}

export interface Response {
  description?: string;
  content?: Record<string, { schema?: JsonSchema }>;
}

export interface JsonSchema {
  type?: string;
  $ref?: string;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  description?: string;
  nullable?: boolean;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number | boolean;
  exclusiveMaximum?: number | boolean;
  minLength?: number;
  maxLength?: number;
  default?: unknown;
  "x-error-codes"?: string[];
}
