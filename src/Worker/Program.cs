using PaliGemma2.DocPipeline.Pacs.Hosting;
using PaliGemma2.DocPipeline.Pipeline.Hosting;
using PaliGemma2.DocPipeline.ServiceDefaults;

// The CPU worker: every background role but inference (Roles: intake, prepare, writeback; all three when unset).
// Role infer runs in PaliGemma2.DocPipeline.InferenceWorker, the only host that carries ONNX Runtime.
// HTTP serves only probes and /metrics.
var builder = WebApplication.CreateBuilder(args);
PipelineRoles.ForHost(builder.Configuration, "PaliGemma2.DocPipeline.Worker", PipelineRoles.Intake, PipelineRoles.Prepare, PipelineRoles.WriteBack);
builder.AddServiceDefaults();
builder.Services.AddDocPipeline(builder.Configuration, bus => bus.AddPacsConsumers(builder.Configuration));
builder.Services.AddPacs(builder.Configuration);

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
