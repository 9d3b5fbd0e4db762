using PaliGemma2.DocPipeline.Inference.Serving;
using PaliGemma2.DocPipeline.Pipeline.Hosting;
using PaliGemma2.DocPipeline.ServiceDefaults;

// The inference worker: role infer only (the default), the infer-<task> consumers for Inference:Tasks on ONNX Runtime.
// Intake, preparation and write-back run in PaliGemma2.DocPipeline.Worker. HTTP serves only probes and /metrics;
// /health/ready waits until every model is loaded and warm.
var builder = WebApplication.CreateBuilder(args);
PipelineRoles.ForHost(builder.Configuration, "PaliGemma2.DocPipeline.InferenceWorker", PipelineRoles.Infer);
builder.AddServiceDefaults();
builder.Services.AddDocPipeline(builder.Configuration, bus => bus.AddInferenceConsumers(builder.Configuration));
builder.Services.AddInferenceServing(builder.Configuration);

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
