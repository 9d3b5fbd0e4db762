using PaliGemma2.DocPipeline.Pacs.Hosting;
using PaliGemma2.DocPipeline.Pipeline.Hosting;
using PaliGemma2.DocPipeline.ServiceDefaults;

// One host for every background role (Roles: intake, prepare, infer, writeback); HTTP serves only probes and /metrics.
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.Services.AddDocPipeline(builder.Configuration, bus => bus.AddPacsConsumers(builder.Configuration));
builder.Services.AddPacs(builder.Configuration);

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
