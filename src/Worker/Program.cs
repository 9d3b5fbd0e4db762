using PaliGemma2.DocPipeline.Pacs.Hosting;
using PaliGemma2.DocPipeline.Pipeline.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddDocPipeline(builder.Configuration, bus => bus.AddPacsConsumers(builder.Configuration));
builder.Services.AddPacs(builder.Configuration);
builder.Build().Run();
