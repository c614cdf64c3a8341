/** wirespan's version, as in package.json (reported by --version and as the OTLP scope version). */
export const VERSION = '0.1.0';
