using PaliGemma2.DocPipeline.Api.DicomWeb;
using PaliGemma2.DocPipeline.Api.Documents;
using PaliGemma2.DocPipeline.Api.Errors;
using PaliGemma2.DocPipeline.Api.Review;
using PaliGemma2.DocPipeline.Api.Security;
using PaliGemma2.DocPipeline.Api.Uploads;
using PaliGemma2.DocPipeline.Pacs.Hosting;
using PaliGemma2.DocPipeline.Pipeline.Hosting;
using PaliGemma2.DocPipeline.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
// Besides the HTTP API, any role but inference (which needs ONNX Runtime, carried by PaliGemma2.DocPipeline.InferenceWorker only).
PipelineRoles.ForHost(builder.Configuration, "PaliGemma2.DocPipeline.Api",
    PipelineRoles.Api, PipelineRoles.Intake, PipelineRoles.Prepare, PipelineRoles.WriteBack);
builder.AddServiceDefaults();

builder.Services.AddProblemDetails();
builder.Services.AddExceptionHandler<ApiExceptionHandler>();
builder.Services.AddApiKeyAuthentication();
builder.AddUploadLimits();
builder.Services.AddDocPipeline(builder.Configuration, bus => bus.AddPacsConsumers(builder.Configuration));
builder.Services.AddPacs(builder.Configuration);
builder.Services.AddReviewPage();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapDefaultEndpoints();
app.MapDocumentsApi();
app.MapDicomWebApi();
app.MapReviewApi();

app.Run();

/// <summary>Entry point, visible to the end-to-end tests.</summary>
public partial class Program;
