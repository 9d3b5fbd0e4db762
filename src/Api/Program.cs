using PaliGemma2.DocPipeline.Api.Documents;
using PaliGemma2.DocPipeline.Api.Security;
using PaliGemma2.DocPipeline.Pipeline.Hosting;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddProblemDetails();
builder.Services.AddApiKeyAuthentication();
builder.AddUploadLimits();
builder.Services.AddDocPipeline(builder.Configuration);
builder.Services.AddHealthChecks();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapHealthChecks("/healthz");
app.MapDocumentsApi();

app.Run();

/// <summary>Entry point, visible to the end-to-end tests.</summary>
public partial class Program;
