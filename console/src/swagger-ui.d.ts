/** The part of Swagger UI's bundle (swagger-ui-dist, which ships no types) that docs.ts uses. */
declare module 'swagger-ui-dist/swagger-ui-es-bundle.js' {
  interface SwaggerUIOptions {
    domNode: HTMLElement;
    url: string;
    validatorUrl: null;
    deepLinking?: boolean;
    docExpansion?: 'list' | 'full' | 'none';
    defaultModelsExpandDepth?: number;
    persistAuthorization?: boolean;
    onComplete?: () => void;
  }
  interface SwaggerUISystem {
    preauthorizeApiKey(name: string, value: string): void;
  }
  const SwaggerUI: (options: SwaggerUIOptions) => SwaggerUISystem;
  export default SwaggerUI;
}

declare module '*.css';
