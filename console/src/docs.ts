import SwaggerUI from 'swagger-ui-dist/swagger-ui-es-bundle.js';
import 'swagger-ui-dist/swagger-ui.css';
import './docs.css';

/**
 * The API reference at /docs: Swagger UI over the served OpenAPI document, from this server only
 * (validatorUrl null: no badge fetched from elsewhere). When the console's tab has signed in,
 * "Try it out" is authorized with the same key.
 */
const root = document.getElementById('swagger');
if (root) {
  const ui = SwaggerUI({
    domNode: root,
    url: '/api/openapi.json',
    validatorUrl: null,
    deepLinking: true,
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
    onComplete: () => {
      const key = sessionStorage.getItem('plugboard.apiKey');
      if (key) ui.preauthorizeApiKey('bearer', key);
    },
  });
}
