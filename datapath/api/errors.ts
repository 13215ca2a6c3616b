import type { z } from 'zod';

/** One refused field: where, and the rule it broke. */
export interface FieldIssue {
  field: string;
  rule: string;
}

export type ErrorCode = 'invalid' | 'not_found' | 'method_not_allowed' | 'conflict' | 'datapath' | 'unauthorized' | 'too_large' | 'internal';

export interface ApiErrorBody {
  error: { code: ErrorCode; message: string; issues?: FieldIssue[] };
}

export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  too_large: 413,
  datapath: 422,
  internal: 500,
};

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues?: FieldIssue[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
  toBody(): ApiErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}) } };
  }
}

/**
 * Flattens zod issues into "field: rule" pairs; unknown keys are named as the field. A missing
 * field is "is required" when the issue carries its input (parse with reportInput, as checkSpec
 * does); issues without it are taken as missing, as before.
 */
export function fieldIssues(error: z.ZodError, prefix = ''): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    const base = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: base ? `${base}.${key}` : key, rule: 'is not a known field' });
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      out.push({ field: base || '(body)', rule: 'is required' });
    } else {
      out.push({ field: base || '(body)', rule: issue.message });
    }
  }
  return out;
}

export function invalid(error: z.ZodError, what: string, prefix = ''): ApiError {
  const issues = fieldIssues(error, prefix);
  return new ApiError('invalid', `invalid ${what}: ${issues.map((i) => `${i.field} ${i.rule}`).join('; ')}`, issues);
}

/** Validates input against a schema: the parsed value, or every bad field with its rule. */
export function checkSpec<S extends z.ZodType>(
  schema: S,
  input: unknown,
): { data: z.output<S>; issues?: undefined } | { data?: undefined; issues: FieldIssue[]; error: z.ZodError } {
  const r = schema.safeParse(input, { reportInput: true });
  return r.success ? { data: r.data } : { issues: fieldIssues(r.error), error: r.error };
}

/** Validates input against a schema, throwing an ApiError that names every bad field. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input, { reportInput: true });
  if (!r.success) throw invalid(r.error, what);
  return r.data;
}
