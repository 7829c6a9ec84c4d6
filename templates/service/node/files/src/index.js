const { app{{#db_redis}}, redis{{/db_redis}} } = require('./app');

const start = async () => {
  // Fail at start, in the pod's log, rather than on the first request.
{{#secrets}}
  if (!process.env.{{env}}) throw new Error('{{env}} must be defined');
{{/secrets}}
{{#db}}
  if (!process.env.{{db_env}}) throw new Error('{{db_env}} must be defined');
{{/db}}
{{#db_redis}}
  redis.connect().catch((err) => console.error('redis:', err.message));
{{/db_redis}}
  app.listen({{port}}, () => console.log('{{name}} listening on port {{port}}'));
};

start();
