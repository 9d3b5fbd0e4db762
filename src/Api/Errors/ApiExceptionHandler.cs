using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Api.Security;
using PaliGemma2.DocPipeline.Pipeline.Intake;

namespace PaliGemma2.DocPipeline.Api.Errors;

/// <summary>
/// Turns what a client or an outage causes into problem details instead of 500: a broker that did not take
/// a stored document's event (503 + Retry-After), a request body Kestrel refused (its 400/413), a client
/// that went away (nothing to answer).
/// </summary>
internal sealed class ApiExceptionHandler(IProblemDetailsService problems, IOptions<ApiOptions> options, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (httpContext.RequestAborted.IsCancellationRequested)
        {
            // The client is gone: there is no one to answer, and it is not a server error.
            logger.LogInformation("Request {Method} {Path} aborted by the client", httpContext.Request.Method, httpContext.Request.Path);
            return true;
        }

        ProblemDetails problem;
        switch (exception)
        {
            case BrokerUnavailableException broker:
                httpContext.Response.Headers.RetryAfter = ((int)options.Value.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                problem = new ProblemDetails
                {
                    Status = StatusCodes.Status503ServiceUnavailable,
                    Title = "Message broker unavailable",
                    Detail = "The file is stored and will be processed once the broker is back; sending it again returns the same document.",
                    Extensions = { ["documentId"] = broker.DocumentId },
                };
                break;
            case BadHttpRequestException bad:
                problem = new ProblemDetails
                {
                    Status = bad.StatusCode,
                    Title = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request too large" : "Malformed request",
                    Detail = bad.Message,
                };
                break;
            default:
                return false;
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception }).ConfigureAwait(false);
    }
}
