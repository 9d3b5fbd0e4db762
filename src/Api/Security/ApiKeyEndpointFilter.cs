using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace PaliGemma2.DocPipeline.Api.Security;

/// <summary>Bound from <c>Api</c>.</summary>
public sealed class ApiOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Api";

    /// <summary>Accepted keys for the <c>X-Api-Key</c> header; every request is refused when empty.</summary>
    public IList<string> Keys { get; } = [];

    /// <summary>Retry-After sent with 503 while the message broker is unavailable.</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>Requires a configured key in <c>X-Api-Key</c>; compares in constant time.</summary>
internal sealed class ApiKeyEndpointFilter(IOptions<ApiOptions> options) : IEndpointFilter
{
    public const string Header = "X-Api-Key";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var presented = context.HttpContext.Request.Headers[Header].ToString();
        var bytes = Encoding.UTF8.GetBytes(presented);
        var ok = presented.Length > 0 && options.Value.Keys.Any(k => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(k), bytes));
        return ok
            ? await next(context).ConfigureAwait(false)
            : TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Missing or wrong API key", detail: $"Send a configured key in the {Header} header.");
    }
}

internal static class ApiKeyExtensions
{
    public static IServiceCollection AddApiKeyAuthentication(this IServiceCollection services)
    {
        services.AddOptions<ApiOptions>().BindConfiguration(ApiOptions.Section);
        return services;
    }
}
