export { Http1Analyzer, HTTP1_DEFAULT_PORTS, type Http1AnalyzerOptions } from './analyzer.js';
export { DEFAULT_HEADER_LIMITS, type HeaderLimits } from './headers.js';
