using PaliGemma2.DocPipeline.Pipeline.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddDocPipeline(builder.Configuration);
builder.Build().Run();
